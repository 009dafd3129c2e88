"""Demo data for a first look, told as one believable story. Safe to run twice.

A year of a small shop's referral program is replayed in order, each step at its own moment (clock.frozen_at),
through the same services a real day uses: customers enrol, then refer friends; friends buy (or not); the rules
decide; a coordinator reviews the flagged cases; refunds take rewards back; monthly payouts pay the rest. So
every date, decision, reward, task and audit event agrees with every other.
"""
import heapq
import itertools
import random
from datetime import timedelta

from rewards.accounts import service as accounts
from rewards.clock import frozen_at, utcnow
from rewards.customers.models import Customer
from rewards.customers.service import enroll_customer, find_customer_by_email
from rewards.extensions import db
from rewards.programs.service import create_program, program_in_force
from rewards.referrals.models import Referral
from rewards.referrals.service import submit_referral
from rewards.referrals.review import approve_referral, expire_referrals, reject_referral
from rewards.sales.service import record_refund, record_sale
from rewards.tasks import service as tasks
from rewards.tasks.models import Task

DEMO_PASSWORD = "refero-demo-2026"
DEMO_USERS = [
    ("admin@example.com", "admin", "Ada Admin"),
    ("coordinator@example.com", "coordinator", "Cora Coordinator"),
    ("finance@example.com", "finance", "Finn Finance"),
    ("customer@example.com", "customer", "Casey Customer"),
]
# Customers and the friends they refer come from different name lists: nobody refers someone of their own name.
FIRST = ["Alex", "Blair", "Devon", "Emery", "Frankie", "Gray", "Harper", "Indy", "Jules", "Kai", "Logan",
         "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Taylor", "Umi", "Val", "Wren", "Yael", "Zoe"]
LAST = ["Ito", "Novak", "Okafor", "Silva", "Berg", "Kowalski", "Haddad", "Moreau", "Larsen", "Tanaka", "Adeyemi"]
FRIEND_FIRST = ["Amara", "Bruno", "Chiara", "Dmitri", "Esme", "Farid", "Greta", "Hugo", "Ines", "Jonas", "Kiri",
                "Leila", "Mateo", "Nadia", "Omar", "Priya", "Rafael", "Sofia", "Tomas", "Yusuf"]
FRIEND_LAST = ["Fischer", "Garcia", "Nguyen", "Obrien", "Patel", "Rossi", "Schmidt", "Kim", "Dubois", "Costa",
               "Lindqvist", "Mensah"]
# What becomes of a referral, and how often.
FATES = (["pending"] * 3 + ["expired"] * 2 + ["held"] * 2 + ["payable"] * 2 + ["paid"] * 5 + ["refunded"]
         + ["no_sale_yet"] * 2)
# Purchases that look like the referrer's own (kind: what the coordinator did): each kind decided both ways,
# and this week's cases still open in the review queue.
REVIEW_CASES = ["shared_card:approve", "same_phone:open", "own_mailbox:reject", "shared_card:open",
                "same_phone:reject", "own_mailbox:open"]
HOLD_DAYS, WINDOW_DAYS = 14, 90


class Story:
    """Steps to replay in time order: (moment, sequence, step)."""

    def __init__(self):
        self.steps, self.counter = [], itertools.count()

    def at(self, moment, step):
        heapq.heappush(self.steps, (moment, next(self.counter), step))

    def replay(self):
        while self.steps:
            moment, _, step = heapq.heappop(self.steps)
            with frozen_at(moment):
                step()
                db.session.flush()


def ensure_demo_program(at):
    """A US-dollar program: $25 per referred friend who spends $50 or more within 90 days; the friend gets $10."""
    if program_in_force("usd", at) is None:
        create_program({"name": "Refer a friend", "currency": "usd", "reward_type": "flat", "amount": 2500,
                        "min_sale_amount": 5000, "attribution_days": WINDOW_DAYS, "hold_days": HOLD_DAYS,
                        "referee_credit_amount": 1000, "referee_coupon_code": "FRIEND10", "effective_from": at})


def _users():
    for email, role, name in DEMO_USERS:
        if accounts.find_user_by_email(email) is None:
            accounts.create_user(email, DEMO_PASSWORD, role, name)
            yield f"user {email} ({role})"


def seed():
    """Create what is missing and yield a line for each thing done."""
    yield from _users()
    db.session.commit()
    if db.session.scalar(db.select(Referral.id).limit(1)) is not None:
        yield "The demo story is already there: nothing to add."
        return
    now = utcnow().replace(microsecond=0)
    rng = random.Random(2026)
    story = Story()
    start = now - timedelta(days=400)
    story.at(start, lambda: ensure_demo_program(start))
    coordinator = accounts.find_user_by_email("coordinator@example.com")
    counts = {"customers": 0, "referrals": 0, "sales": 0}

    people = [(f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}",
               f"{FIRST[i % len(FIRST)].lower()}.{LAST[i % len(LAST)].lower()}@example.com") for i in range(36)]
    people.append(("Casey Customer", "customer@example.com"))
    friends = iter(rng.sample([(f, l) for f in FRIEND_FIRST for l in FRIEND_LAST], 200))
    reviews = iter(REVIEW_CASES)
    for n, (name, email) in enumerate(people):
        enrolled = start + timedelta(days=rng.randint(1, 200), hours=rng.randint(8, 18))
        phone = f"+12015550{100 + n}"
        story.at(enrolled, _enrol(name, email, phone, counts))
        is_casey = email == "customer@example.com"
        plan = ["paid", "held", "pending", "expired"] if is_casey else \
            [rng.choice(FATES) for _ in range(rng.randint(0, 3))]
        if n % 6 == 5:
            plan.append(next(reviews, "shared_card:open"))
        for k, fate in enumerate(plan):
            first, last = next(friends)
            friend = (f"{first} {last}", f"{first.lower()}.{last.lower()}@example.org")
            _plan_referral(story, rng, now, enrolled, email, phone, friend, fate, f"{n}-{k}", is_casey,
                           coordinator, counts)

    # Monthly payout runs: every referrer's payable rewards are paid on the 1st.
    month = start.replace(day=1) + timedelta(days=32)
    paydays = []
    while month.replace(day=1) < now - timedelta(days=20):
        paydays.append(month.replace(day=1, hour=9))
        month = paydays[-1] + timedelta(days=32)
    for day in paydays:  # the last runs leave an item failed each, for finance to look at
        story.at(day, lambda late=(day in paydays[-2:]): _payout_run(keep_failed=1 if late else 0))
    story.replay()
    with frozen_at(now):
        expired = expire_referrals(now)
        _settle_board(now, coordinator)
    db.session.commit()
    with frozen_at(now):
        yield from seed_payouts()
    yield (f"{counts['customers']} customers, {counts['referrals']} referrals, {counts['sales']} sales, "
           f"{expired} expired, over the past {(now - start).days} days")
    yield f"Demo logins (password {DEMO_PASSWORD}): " + ", ".join(e for e, _, _ in DEMO_USERS)


def _enrol(name, email, phone, counts):
    def step():
        if find_customer_by_email(email) is None:
            # Casey Customer has a portal login already; her customer record starts now.
            enroll_customer(email, name, phone, user=accounts.find_user_by_email(email))
            counts["customers"] += 1
    return step


def _customer(email) -> Customer:
    return find_customer_by_email(email)


def _plan_referral(story, rng, now, enrolled, email, phone, friend, fate, key, is_casey, coordinator, counts):
    """Schedule one referral's life: referred, maybe bought, maybe refunded or reviewed."""
    name, friend_email = friend
    latest = now - timedelta(days=2)
    if fate in ("pending", "no_sale_yet"):
        referred = now - timedelta(days=rng.randint(2, 25), hours=rng.randint(0, 8))
    elif fate == "expired":
        referred = now - timedelta(days=rng.randint(WINDOW_DAYS + 5, WINDOW_DAYS + 90))
    elif fate == "held":
        referred = now - timedelta(days=rng.randint(8, 30))
    elif fate == "payable":
        referred = now - timedelta(days=rng.randint(20, 26))
    elif fate.endswith(":open"):
        referred = now - timedelta(days=rng.randint(5, 9))  # flagged this week: still waiting for a decision
    else:
        referred = enrolled + timedelta(days=rng.randint(3, 120), hours=rng.randint(0, 6))
    referred = max(referred, enrolled + timedelta(days=1))
    if referred > latest:
        return
    source = "link" if is_casey and fate == "pending" else rng.choice(["portal", "link", "link", "admin"])
    friend_phone = f"+12015550{150 + int(key.split('-')[0]) % 50}" if fate.startswith("own_mailbox") else None
    story.at(referred, lambda: _refer(email, friend_email, name, source, friend_phone, counts))
    if fate in ("pending", "expired", "no_sale_yet"):
        return
    bought = referred + timedelta(days=rng.randint(1, 7 if fate in ("held", "payable") else 25),
                                  hours=rng.randint(1, 9))
    if fate == "held":
        bought = max(bought, now - timedelta(days=HOLD_DAYS - 2))
    bought = min(bought, latest)
    amount = rng.choice([5900, 8900, 12900, 25900])
    sale = {"external_id": f"demo-{key}", "email": friend_email, "amount": amount, "currency": "usd",
            "occurred_at": bought.isoformat(), "phone": friend_phone}
    if ":" in fate:
        _plan_review(story, now, email, phone, sale, fate, key, referred, bought, coordinator)
    story.at(bought, lambda: _sell(sale, counts))
    if fate == "refunded":
        story.at(bought + timedelta(days=5), lambda: record_refund(f"demo-{key}", f"demo-refund-{key}", amount, "api"))


def _plan_review(story, now, email, phone, sale, case, key, referred, bought, coordinator):
    """A purchase that looks like the referrer's own: the rules send it to review, a coordinator may decide."""
    kind, _, decision = case.partition(":")
    if kind == "shared_card":
        card = f"card_demo_{key}"
        sale["payment_fingerprint"] = card
        story.at(referred - timedelta(days=20), lambda: record_sale(
            {"external_id": f"demo-own-{key}", "email": email, "amount": 3900, "currency": "usd",
             "occurred_at": (referred - timedelta(days=20)).isoformat(), "payment_fingerprint": card}, "api"))
    elif kind == "same_phone":
        sale["phone"] = phone
    else:  # the friend's purchase (matched by the friend's phone) was paid from the referrer's own mailbox
        local, domain = email.split("@")
        sale["email"] = f"{local}+gift@{domain}"
    if decision == "approve":
        story.at(bought + timedelta(days=2), lambda: _decide(sale, coordinator, "approve"))
    elif decision == "reject":
        story.at(bought + timedelta(days=2), lambda: _decide(sale, coordinator, "reject"))


def _refer(email, friend_email, name, source, phone, counts):
    submit_referral(_customer(email), friend_email, name, source, phone)
    counts["referrals"] += 1


def _sell(sale, counts):
    record_sale({key: value for key, value in sale.items() if value is not None}, "api")
    counts["sales"] += 1


def _decide(sale, coordinator, action):
    from rewards.sales.models import Sale

    stored = db.session.scalar(db.select(Sale).filter_by(external_id=sale["external_id"]))
    referral_id = stored.referral_id if stored else None
    if referral_id is None:
        from rewards.sales.models import Decision

        referral_id = db.session.scalar(db.select(Decision.referral_id).filter_by(sale_id=stored.id).limit(1)) \
            if stored else None
    referral = db.session.get(Referral, referral_id) if referral_id else None
    if referral is None or referral.status != "review":
        return
    if action == "approve":
        approve_referral(referral.id, coordinator)
    else:
        reject_referral(referral.id, coordinator, "The buyer is the referrer's own household: same card or phone.")


def _ready_payout_accounts(customer_ids):
    """Demo payout accounts, ready as if onboarding were done (the demo has no Stripe key)."""
    from rewards.payouts.models import PayoutAccount

    for customer_id in customer_ids:
        if db.session.scalar(db.select(PayoutAccount.id).filter_by(customer_id=customer_id)) is None:
            db.session.add(PayoutAccount(customer_id=customer_id, stripe_account_id=f"acct_demo{customer_id:06d}",
                                         payouts_enabled=True, transfers_capability="active",
                                         details_submitted=True, requirements_due=[]))
    db.session.flush()


def _pay_batch(summaries, keep_failed=0, approve=True):
    """One payout batch through the payouts feature: finance drafts, admin approves, execution (without a Stripe
    key every item fails as "not configured"), then finance marks all but `keep_failed` items paid by bank."""
    from rewards.payouts import service
    from rewards.payouts.executor import execute_batch

    drafter = accounts.find_user_by_email("finance@example.com")
    approver = accounts.find_user_by_email("admin@example.com")
    if not any(summary.net >= 500 for summary in summaries.values()):
        return None  # nothing reaches the minimum this month
    _ready_payout_accounts(summaries)
    batch = service.draft_batch("usd", 500, drafter)
    db.session.commit()
    if not approve:
        return batch
    service.approve_batch(batch.id, approver)
    db.session.commit()
    execute_batch(batch.id)
    unpaid = [item for item in batch.items if item.status != "paid"]
    for item in unpaid[keep_failed:]:
        service.mark_paid_manually(batch.id, item.id, f"DEMO-BANK-{item.id:05d}", drafter)
    db.session.commit()
    return batch


def _payout_run(keep_failed=0):
    """Finance pays every referrer's payable dollars on the 1st, through a payout batch."""
    from rewards.ledger.payouts import payable_summaries

    _pay_batch(payable_summaries("usd"), keep_failed=keep_failed)


def seed_payouts():
    """Today's payout state: what matured since the last monthly run waits in a draft for approval."""
    from rewards.ledger.payouts import payable_summaries

    draft = _pay_batch(payable_summaries("usd"), approve=False)
    if draft is not None:
        yield f"payout batch {draft.id} drafted, waiting for approval"


def _settle_board(now, coordinator):
    """The board as a coordinator keeps it: contacts made for settled referrals, a few in progress, some chores."""
    open_contacts = db.session.scalars(db.select(Task).join(Referral, Referral.id == Task.referral_id).where(
        Task.auto_key.startswith("contact_referee"), Task.status != "done")).all()
    for task in open_contacts:
        referral = db.session.get(Referral, task.referral_id)
        if referral.status != "pending":
            tasks.move_task(task, "done")
    pending = [t for t in open_contacts if t.status != "done"]
    for task in pending[: max(1, len(pending) // 3)]:
        tasks.move_task(task, "doing")
        task.assignee_id = coordinator.id
    for title, status, due, priority in [
            ("Prepare the monthly payout report for finance", "todo", 5, "normal"),
            ("Call Casey Customer about the spring promotion", "doing", 1, "high"),
            ("Update the welcome text on the referral page", "done", None, "low")]:
        tasks.create_task({"title": title, "status": status, "priority": priority, "assignee_id": coordinator.id,
                           "due_date": tasks.today() + timedelta(days=due) if due is not None else None})
