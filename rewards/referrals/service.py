"""Submitting referrals: normalising the referee and refusing what the program does not accept."""
from datetime import timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from rewards import audit, events
from rewards.accounts.models import User
from rewards.contacts import canonical_email, normalize_email, normalize_phone
from rewards.customers.models import Customer
from rewards.customers.service import find_customer_by_email
from rewards.clock import utcnow
from rewards.errors import Conflict, InvalidInput, NotFound, TooMany
from rewards.extensions import db
from rewards.referrals.models import SOURCES, Referral


def submit_referral(referrer: Customer, referee_email: str, referee_name: str, source: str,
                    referee_phone: str | None = None, note: str | None = None) -> Referral:
    """Record a referral from `referrer` (not committed); raises InvalidInput or Conflict with the reason."""
    if source not in SOURCES:
        raise InvalidInput(f"Source must be one of: {', '.join(SOURCES)}.", "source")
    email = normalize_email(referee_email, "referee_email")
    phone = normalize_phone(referee_phone, "referee_phone")
    name = (referee_name or "").strip()
    if not name:
        raise InvalidInput("The referee's name is required.", "referee_name")
    if canonical_email(email) == canonical_email(referrer.email) or (phone and phone == referrer.phone):
        raise InvalidInput("You cannot refer yourself.", "referee_email")
    if find_customer_by_email(email):
        raise Conflict("This person is already a customer.", "referee_email")
    if source not in UNLIMITED_SOURCES:
        check_daily_limit(referrer)
    if db.session.scalar(db.select(Referral.id).filter_by(referrer_id=referrer.id, referee_email=email)):
        raise Conflict("You have already referred this person.", "referee_email")
    referral = Referral(referrer_id=referrer.id, referee_email=email, referee_name=name,
                        referee_phone=phone, note=(note or "").strip() or None, source=source)
    try:
        # The unique constraint settles two identical submissions racing each other; only the savepoint is lost.
        with db.session.begin_nested():
            db.session.add(referral)
    except IntegrityError:
        raise Conflict("You have already referred this person.", "referee_email") from None
    audit.record("referral.created", referral, {"source": source, "referrer_id": referrer.id})
    events.referral_created.send(referral)
    return referral


# Staff recording a referral on a customer's behalf are accountable for it; every other door is counted.
UNLIMITED_SOURCES = ("admin",)


def daily_limit() -> int:
    return current_app.config.get("REFERRALS_PER_DAY", 20) if has_app_context() else 20


def check_daily_limit(referrer: Customer) -> None:
    """TooMany when the referrer made REFERRALS_PER_DAY referrals in the last 24 hours (0: no limit).

    The referrer's row is locked first (PostgreSQL), so concurrent submissions are counted one after another.
    """
    limit = daily_limit()
    if not limit:
        return
    lock = select(Customer.id).where(Customer.id == referrer.id)
    if db.engine.dialect.name == "postgresql":
        db.session.execute(lock.with_for_update())
    made = db.session.scalar(select(func.count()).select_from(Referral).where(
        Referral.referrer_id == referrer.id, Referral.created_at >= utcnow() - timedelta(days=1)))
    if made >= limit:
        raise TooMany(f"You have made {made} referrals in the last 24 hours, the most the program takes in a day. "
                      f"Please try again tomorrow.", "referee_email")


STATUS_SENTENCES = {
    "pending": "We are waiting for {name} to make a first purchase.",
    "review": "{name} made a purchase; we are checking it before the referral counts.",
    "qualified": "{name}'s purchase counts: this referral earned you a reward.",
    "rejected": "This referral did not qualify for a reward.",
    "expired": "This referral expired: {name} did not buy within the program's time.",
}


def status_sentence(referral: Referral) -> str:
    """One plain sentence on where the referral stands: all a customer is told about its decision."""
    return STATUS_SENTENCES.get(referral.status, "").format(name=referral.referee_name)


def get_referral(referral_id: int, viewer: User | None = None) -> Referral:
    """The referral, if `viewer` may see it; a customer sees only referrals they made (others are 404)."""
    referral = db.session.get(Referral, referral_id)
    if referral is None or (viewer is not None and viewer.role == "customer"
                            and (viewer.customer is None or referral.referrer_id != viewer.customer.id)):
        raise NotFound("No such referral.")
    return referral


def referrals_query(viewer: User, status: str | None = None, referrer_id: int | None = None):
    """Referrals visible to `viewer`, newest first, filtered."""
    query = db.select(Referral).order_by(Referral.created_at.desc(), Referral.id.desc())
    if viewer.role == "customer":
        query = query.where(Referral.referrer_id == (viewer.customer.id if viewer.customer else -1))
    if status:
        query = query.where(Referral.status == status)
    if referrer_id:
        query = query.where(Referral.referrer_id == referrer_id)
    return query
