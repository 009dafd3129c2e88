"""Test data builders: plain functions that add committed rows through the services where rules matter."""
import itertools

from rewards.accounts import service as accounts
from rewards.accounts.models import User
from rewards.customers.models import Customer
from rewards.customers.service import enroll_customer
from rewards.extensions import db
from rewards.programs.models import Program
from rewards.referrals.models import Referral

PASSWORD = "correct-horse-battery-staple"
_PASSWORD_HASH = accounts.password_hasher.hash(PASSWORD)
_seq = itertools.count(1)


def unique_email(prefix="person"):
    return f"{prefix}{next(_seq)}@example.com"


def user(role="coordinator", email=None, name=None, customer=True) -> User:
    """A user with PASSWORD; a customer-role user is also enrolled as a customer."""
    email = email or unique_email(role)
    u = User(email=email, name=name or role.title(), role=role, password_hash=_PASSWORD_HASH)
    db.session.add(u)
    db.session.flush()
    if role == "customer" and customer:
        enroll_customer(email, u.name, user=u)
    db.session.commit()
    return u


def api_key(owner: User, label="test"):
    key, secret = accounts.create_api_key(owner, label)
    db.session.commit()
    return key, secret


def customer(email=None, name="Rita Referrer", phone=None) -> Customer:
    c = enroll_customer(email or unique_email("customer"), name, phone)
    db.session.commit()
    return c


def referral(referrer: Customer | None = None, email=None, status="pending", source="api", **kwargs) -> Referral:
    r = Referral(referrer_id=(referrer or customer()).id, referee_email=email or unique_email("referee"),
                 referee_name=kwargs.pop("referee_name", "Frank Friend"), status=status, source=source, **kwargs)
    db.session.add(r)
    db.session.commit()
    return r


def program(currency="usd", reward_type="flat", amount=1000, min_sale_amount=2000, attribution_days=30,
            hold_days=14, effective_from=None, **kwargs) -> Program:
    """A program version in force since `effective_from` (default: a year ago)."""
    from datetime import timedelta

    from rewards.clock import utcnow

    p = Program(name=kwargs.pop("name", "Refer a friend"), currency=currency, reward_type=reward_type,
                amount=amount, min_sale_amount=min_sale_amount, attribution_days=attribution_days,
                hold_days=hold_days, effective_from=effective_from or utcnow() - timedelta(days=365), **kwargs)
    db.session.add(p)
    db.session.commit()
    return p
