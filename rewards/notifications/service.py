"""Notification mail: who is told what, in the customer's chosen kinds, with amounts in currency units."""
from itsdangerous import BadSignature, URLSafeSerializer
from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from rewards import audit
from rewards.accounts.models import User
from rewards.bulk import chunks
from rewards.clock import utcnow
from rewards.customers.models import Customer
from rewards.extensions import db
from rewards.links import public_url
from rewards.mail import service as mail
from rewards.mail.models import OutgoingMessage
from rewards.money import format_money
from rewards.notifications.models import NotificationPreference
from rewards.programs.models import Program, Reward
from rewards.programs.service import program_in_force
from rewards.referrals.models import Referral

# The kinds a customer may switch off, in the order the preferences page shows them.
CUSTOMER_KINDS = {
    "referral_received": "Someone leaves their details on my referral link",
    "referral_qualified": "A referral qualifies and earns me a reward",
    "reward_taken_back": "A reward of mine is taken back",
}
CHUNK = 500


def preferences(customer_id: int) -> dict[str, bool]:
    """{kind: enabled} for every customer kind."""
    switched = dict(db.session.execute(select(NotificationPreference.kind, NotificationPreference.enabled)
                                       .filter_by(customer_id=customer_id)).all())
    return {kind: switched.get(kind, True) for kind in CUSTOMER_KINDS}


def set_preferences(customer: Customer, enabled: set[str]) -> None:
    """Switch each kind on when in `enabled`, off otherwise (not committed)."""
    current = preferences(customer.id)
    for kind in CUSTOMER_KINDS:
        wanted = kind in enabled
        if current[kind] != wanted:
            row = db.session.get(NotificationPreference, (customer.id, kind))
            if row is None:
                db.session.add(NotificationPreference(customer_id=customer.id, kind=kind, enabled=wanted))
            else:
                row.enabled = wanted
            audit.record("customer.notifications_changed", customer, {"kind": kind, "enabled": wanted})
    db.session.flush()


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="unsubscribe")


def unsubscribe_token(customer_id: int, kind: str) -> str:
    return _serializer().dumps([customer_id, kind])


def read_unsubscribe_token(token: str) -> tuple[Customer, str] | None:
    """The customer and kind a signed unsubscribe link names; None for anything else."""
    try:
        customer_id, kind = _serializer().loads(token or "")
    except (BadSignature, ValueError, TypeError):
        return None
    if kind not in CUSTOMER_KINDS or not isinstance(customer_id, int):
        return None
    customer = db.session.get(Customer, customer_id)
    return (customer, kind) if customer is not None else None


def unsubscribe(customer: Customer, kind: str) -> None:
    set_preferences(customer, {k for k, on in preferences(customer.id).items() if on and k != kind})


def _portal_links() -> dict:
    return {"preferences_url": public_url("portal.preferences"), "portal_url": public_url("portal.home")}


def _customer_message(customer: Customer, kind: str, subject: str, template: str, context: dict, dedupe_key: str,
                      links: dict | None = None) -> dict:
    """mail.queue()'s arguments for a notification to a customer: with her preferences and unsubscribe links (and
    the List-Unsubscribe header, one-click as RFC 8058 has it). `links`: _portal_links(), if the caller has them."""
    unsubscribe_url = public_url("notifications.unsubscribe", token=unsubscribe_token(customer.id, kind))
    headers = {"List-Unsubscribe": f"<{unsubscribe_url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    context = {"name": customer.name, **(links or _portal_links()), "unsubscribe_url": unsubscribe_url, **context}
    return {"kind": kind, "recipient": customer.email, "subject": subject, "template": template, "context": context,
            "headers": headers, "dedupe_key": dedupe_key}


def _to_customer(customer: Customer, kind: str, subject: str, template: str, context: dict, dedupe_key: str):
    """Queue a notification to a customer (not committed), unless she switched its kind off."""
    if not preferences(customer.id)[kind]:
        return None
    return mail.queue(**_customer_message(customer, kind, subject, template, context, dedupe_key))


def notify_referral_received(referral: Referral) -> None:
    """Tell the referrer that someone left their details on her link (not committed)."""
    referrer = db.session.get(Customer, referral.referrer_id)
    _to_customer(referrer, "referral_received", f"{referral.referee_name} used your referral link",
                 "referral_received", {"referee_name": referral.referee_name},
                 f"referral_received:{referral.id}")


def referee_offers(at=None) -> list[str]:
    """What a new customer gets under each program in force now, in words ("a 10.00 USD credit", "coupon X")."""
    at = at or utcnow()
    offers = []
    for currency in db.session.scalars(select(Program.currency).distinct().order_by(Program.currency)):
        program = program_in_force(currency, at)
        if program is None:
            continue
        if program.referee_credit_amount:
            offers.append(f"a credit of {format_money(program.referee_credit_amount, program.currency)}")
        if program.referee_coupon_code:
            offers.append(f"the coupon code {program.referee_coupon_code}")
    return offers


def notify_referee_welcome(referral: Referral) -> None:
    """Welcome the referee with the offer, when the program has a referee reward (not committed)."""
    offers = referee_offers()
    if not offers:
        return
    referrer = db.session.get(Customer, referral.referrer_id)
    mail.queue("referee_welcome", referral.referee_email, f"{referrer.name} invited you: here is your welcome offer",
               "referee_welcome", {"referee_name": referral.referee_name, "referrer_name": referrer.name,
                                   "offers": offers}, dedupe_key=f"referee_welcome:{referral.id}")


def notify_rewards_granted(reward_ids: list[int]) -> None:
    """Tell each referrer that a referral qualified, with the reward and when it is payable (commits per chunk).

    A bulk grant may bring thousands: choices and earlier messages are looked up, and the messages written,
    once per chunk."""
    links = _portal_links()
    for chunk in chunks(sorted(reward_ids), CHUNK):
        rewards = db.session.scalars(select(Reward).where(Reward.id.in_(chunk))
                                     .options(joinedload(Reward.referral), joinedload(Reward.referrer))).all()
        keys = {reward.id: f"referral_qualified:{reward.id}" for reward in rewards}
        sent = set(db.session.scalars(select(OutgoingMessage.dedupe_key)
                                      .where(OutgoingMessage.dedupe_key.in_(list(keys.values())))))
        off = set(db.session.scalars(select(NotificationPreference.customer_id).where(
            NotificationPreference.customer_id.in_({reward.referrer_id for reward in rewards}),
            NotificationPreference.kind == "referral_qualified", NotificationPreference.enabled.is_(False))))
        messages = []
        for reward in rewards:
            if reward.status == "reversed" or reward.amount <= 0 or keys[reward.id] in sent or reward.referrer_id in off:
                continue
            amount = format_money(reward.amount, reward.currency)
            messages.append(_customer_message(
                reward.referrer, "referral_qualified", f"{reward.referral.referee_name} qualified: you earned {amount}",
                "referral_qualified", {"referee_name": reward.referral.referee_name, "amount": amount,
                                       "payable_on": f"{reward.payable_at:%d %B %Y}"},
                keys[reward.id], links))
        mail.queue_many(messages)
        db.session.commit()


def notify_reward_taken_back(reward: Reward, amount: int) -> None:
    """Tell the referrer that `amount` of a reward was taken back (a refund), not committed."""
    taken = format_money(amount, reward.currency)
    referral = db.session.get(Referral, reward.referral_id)
    _to_customer(db.session.get(Customer, reward.referrer_id), "reward_taken_back",
                 f"A reward was taken back: {taken}", "reward_taken_back",
                 {"referee_name": referral.referee_name, "amount": taken, "status": reward.status,
                  "reason": reward.reversed_reason or "The sale was refunded."},
                 f"reward_taken_back:{reward.id}:{reward.status}:{reward.value}")


def notify_batch_awaiting_approval(batch_id: int, total_amount: int, currency: str, item_count: int,
                                   created_by_id: int | None, approve_url: str | None = None) -> int:
    """Tell every finance user (and admin) but the batch's creator that a payout batch waits for approval
    (not committed); returns how many were told. Called by the payouts package when a batch is drafted."""
    recipients = db.session.scalars(select(User).where(User.role.in_(("finance", "admin")), User.is_disabled.is_(False))
                                    .order_by(User.id)).all()
    total = format_money(total_amount, currency)
    told = 0
    for user in recipients:
        if user.id == created_by_id:
            continue
        queued = mail.queue("batch_awaiting_approval", user.email, f"Payout batch {batch_id} ({total}) awaits your approval",
                            "batch_awaiting_approval",
                            {"name": user.name, "batch_id": batch_id, "total": total, "item_count": item_count,
                             "approve_url": approve_url or public_url("admin.finance")},
                            dedupe_key=f"batch_awaiting_approval:{batch_id}:{user.id}")
        told += queued is not None
    return told
