"""Demo data for a first look: staff logins, a few dozen customers and their referrals. Safe to run twice."""
import random
from datetime import timedelta

from rewards.accounts import service as accounts
from rewards.clock import utcnow
from rewards.customers.service import enroll_customer, find_customer_by_email
from rewards.extensions import db
from rewards.programs.service import create_program, program_in_force
from rewards.referrals.models import Referral
from rewards.referrals.review import expire_referrals
from rewards.sales.service import record_sale

DEMO_PASSWORD = "refero-demo-2026"
DEMO_USERS = [
    ("admin@example.com", "admin", "Ada Admin"),
    ("coordinator@example.com", "coordinator", "Cora Coordinator"),
    ("finance@example.com", "finance", "Finn Finance"),
    ("customer@example.com", "customer", "Casey Customer"),
]
FIRST = ["Alex", "Blair", "Casey", "Devon", "Emery", "Frankie", "Gray", "Harper", "Indy", "Jules", "Kai", "Logan",
         "Morgan", "Noel", "Oakley", "Parker", "Quinn", "Reese", "Sage", "Taylor", "Umi", "Val", "Wren", "Yael"]
LAST = ["Ito", "Novak", "Okafor", "Silva", "Berg", "Kowalski", "Haddad", "Moreau", "Larsen", "Tanaka", "Adeyemi"]


FATES = ["pending"] * 5 + ["buys"] * 4 + ["self", "late"]


def ensure_demo_program(now):
    """A US-dollar program: $25 per referred customer who spends $50 or more within 90 days."""
    if program_in_force("usd", now) is None:
        create_program({"name": "Refer a friend", "currency": "usd", "reward_type": "flat", "amount": 2500,
                        "min_sale_amount": 5000, "attribution_days": 90, "hold_days": 14,
                        "effective_from": now - timedelta(days=365)})


def seed():
    """Create what is missing and yield a line for each thing done."""
    rng = random.Random(2026)
    for email, role, name in DEMO_USERS:
        if accounts.find_user_by_email(email):
            continue
        user = accounts.create_user(email, DEMO_PASSWORD, role, name)
        if role == "customer":
            enroll_customer(email, name, user=user)
        yield f"user {email} ({role})"
    db.session.commit()

    customers = []
    for i in range(36):
        first, last = FIRST[i % len(FIRST)], LAST[i % len(LAST)]
        email = f"{first.lower()}.{last.lower()}{i}@example.com"
        customer = find_customer_by_email(email) or enroll_customer(email, f"{first} {last}")
        customers.append(customer)
    customers.append(find_customer_by_email("customer@example.com"))
    db.session.commit()

    ensure_demo_program(now := utcnow())
    created = sales = 0
    for n, customer in enumerate(customers):
        for k in range(3 if customer.email == "customer@example.com" else rng.randint(0, 3)):
            referee = f"friend{n}-{k}@example.org"
            # Draw every value before the existence check, so a second run repeats the same draws.
            name, fate = f"{rng.choice(FIRST)} {rng.choice(LAST)}", rng.choice(FATES)
            source = rng.choice(["portal", "link", "link", "api"])
            age = rng.randint(100, 150) if fate == "late" else rng.randint(2, 80)
            created_at = now - timedelta(days=age, hours=rng.randint(0, 23))
            bought_at = created_at + timedelta(days=rng.randint(1, min(age - 1, 20)), hours=rng.randint(0, 23))
            amount = rng.choice([4900, 8900, 12900, 25900])
            if db.session.scalar(db.select(Referral.id).filter_by(referrer_id=customer.id, referee_email=referee)):
                continue
            db.session.add(Referral(referrer_id=customer.id, referee_email=referee, referee_name=name,
                                    source=source, created_at=created_at))
            db.session.flush()
            created += 1
            # Sales go through the real door, so validation decides: qualified, or review for a shared card.
            if fate in ("buys", "self"):
                card = f"card_demo_{n}" if fate == "self" else None
                if card:
                    record_sale({"external_id": f"demo-own-{n}-{k}", "email": customer.email, "amount": 2900,
                                 "currency": "usd", "occurred_at": (created_at - timedelta(days=30)).isoformat(),
                                 "payment_fingerprint": card}, "api")
                record_sale({"external_id": f"demo-{n}-{k}", "email": referee, "amount": amount, "currency": "usd",
                             "occurred_at": bought_at.isoformat(), "payment_fingerprint": card}, "api")
                sales += 1
    expired = expire_referrals(now)
    db.session.commit()
    yield f"{len(customers)} customers, {created} new referrals, {sales} sales, {expired} expired"
    yield from seed_payouts()
    yield f"Demo logins (password {DEMO_PASSWORD}): " + ", ".join(e for e, _, _ in DEMO_USERS)


def seed_payouts():
    """Three payout batches, once: one paid, one with a failed item, one draft (referrers get accounts in thirds)."""
    from rewards.accounts.models import User
    from rewards.ledger.payouts import payable_summaries
    from rewards.payouts import service
    from rewards.payouts.executor import execute_batch
    from rewards.payouts.models import PayoutAccount, PayoutBatch

    if db.session.scalar(db.select(PayoutBatch.id).limit(1)) is not None:
        return
    drafter = db.session.scalar(db.select(User).filter_by(email="finance@example.com"))
    approver = db.session.scalar(db.select(User).filter_by(email="admin@example.com"))
    payable = list(payable_summaries("usd"))
    thirds = [payable[i::3] for i in range(3)]
    made = []
    for number, customer_ids in enumerate(thirds):
        if not customer_ids:
            continue
        for customer_id in customer_ids:  # demo accounts: ready, as if onboarding were done
            if db.session.scalar(db.select(PayoutAccount.id).filter_by(customer_id=customer_id)) is None:
                db.session.add(PayoutAccount(customer_id=customer_id, stripe_account_id=f"acct_demo{customer_id:06d}",
                                             payouts_enabled=True, transfers_capability="active",
                                             details_submitted=True, requirements_due=[]))
        db.session.commit()
        batch = service.draft_batch("usd", 500, drafter)
        db.session.commit()
        made.append(f"batch {batch.id}")
        if number == 2:
            continue  # the draft waits for a second person
        service.approve_batch(batch.id, approver)
        db.session.commit()
        execute_batch(batch.id)  # without STRIPE_SECRET_KEY each item fails as "not configured"
        failed = [item for item in batch.items if item.status != "paid"]
        for item in failed[1:] if number == 1 else failed:  # the second batch keeps one failed item
            service.mark_paid_manually(batch.id, item.id, f"DEMO-BANK-{item.id:05d}", drafter)
        db.session.commit()
    yield "payout batches: " + ", ".join(made) + " (paid, one failed item, draft)"
