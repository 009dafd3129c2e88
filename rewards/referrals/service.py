"""Submitting referrals: normalising the referee and refusing what the program does not accept."""
from sqlalchemy.exc import IntegrityError

from rewards import audit, events
from rewards.accounts.models import User
from rewards.contacts import canonical_email, normalize_email, normalize_phone
from rewards.customers.models import Customer
from rewards.customers.service import find_customer_by_email
from rewards.errors import Conflict, InvalidInput, NotFound
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
