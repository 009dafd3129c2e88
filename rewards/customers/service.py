"""Enrolling customers in the referral program and finding them."""

from rewards import audit
from rewards.accounts.models import User
from rewards.bulk import Prebuilt, among_param, chunks
from rewards.customers.models import Customer
from rewards.contacts import normalize_email, normalize_phone
from rewards.errors import Conflict, InvalidInput, NotFound
from rewards.extensions import db
from rewards.links import public_url

LOCK_CHUNK = 5000


def find_customer_by_email(email: str) -> Customer | None:
    return db.session.scalar(db.select(Customer).filter_by(email=email))


def enroll_customer(email: str, name: str, phone: str | None = None, user: User | None = None) -> Customer:
    """Add a customer with a fresh referral code (not committed). Conflict if the email is enrolled."""
    email = normalize_email(email)
    name = (name or "").strip()
    if not name:
        raise InvalidInput("Name is required.", "name")
    if find_customer_by_email(email):
        raise Conflict("A customer with this email is already enrolled.", "email")
    customer = Customer(email=email, name=name, phone=normalize_phone(phone), user=user)
    db.session.add(customer)
    db.session.flush()
    audit.record("customer.enrolled", customer, {"email": email})
    return customer


def get_customer(customer_id: int, viewer: User | None = None) -> Customer:
    """The customer, if `viewer` may see it; a customer viewer sees only themselves (others are 404)."""
    customer = db.session.get(Customer, customer_id)
    if customer is None or (viewer is not None and viewer.role == "customer" and customer.user_id != viewer.id):
        raise NotFound("No such customer.")
    return customer


def get_customer_by_code(code: str) -> Customer:
    customer = db.session.scalar(db.select(Customer).filter_by(referral_code=code)) if code else None
    if customer is None:
        raise NotFound("No such referral code.", "referral_code")
    return customer


def referral_url(customer: Customer) -> str:
    """The link a customer shares, built from PUBLIC_BASE_URL (rewards.links)."""
    return public_url("portal.landing", referral_code=customer.referral_code)


def lock_referrer(customer_id: int) -> None:
    """Serialise money moves per referrer (yearly caps, tiers, refunds, payouts) across workers, until commit.

    FOR NO KEY UPDATE on PostgreSQL: it orders the referrer's money moves but, unlike FOR UPDATE, does not
    block other transactions inserting rows that reference the customer (referrals, sales, audit events).
    SQLite has one writer at a time anyway.
    """
    lock_referrers([customer_id])


def lock_referrers(customer_ids) -> None:
    """lock_referrer() for many, in id order, so two workers locking overlapping sets never deadlock."""
    ordered = sorted(set(customer_ids))
    for chunk in chunks(ordered, LOCK_CHUNK):
        db.session.execute(_lock_statement(), {"customer_ids": chunk})


@Prebuilt
def _lock_statement():
    return (db.select(Customer.id).where(among_param(Customer.id, "customer_ids")).order_by(Customer.id)
            .with_for_update(key_share=True))
