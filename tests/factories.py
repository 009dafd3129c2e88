"""Test data builders: plain functions that add committed rows through the services where rules matter."""
import itertools

from rewards.accounts import service as accounts
from rewards.accounts.models import User
from rewards.customers.models import Customer
from rewards.customers.service import enroll_customer
from rewards.extensions import db
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


# Programs, sales and rewards: sales are written straight through the models, as a sale ingestion would.
def program(currency="usd", reward_type="flat", amount=1000, percent=None, effective_from=None, **rules):
    """A committed program version; `percent` may be a string like "12.5"."""
    from datetime import datetime, timezone
    from decimal import Decimal

    from rewards.programs.service import create_program

    data = {"name": f"{currency.upper()} referrals", "currency": currency, "reward_type": reward_type,
            "amount": amount if reward_type == "flat" else None,
            "percent": Decimal(percent) if percent is not None else None,
            "min_sale_amount": 0, "attribution_days": 30, "hold_days": 30,
            "effective_from": effective_from or datetime(2020, 1, 1, tzinfo=timezone.utc), **rules}
    for tier in data.get("tiers") or []:
        tier.setdefault("amount", None)
        if tier.get("percent") is not None:
            tier["percent"] = Decimal(tier["percent"])
        tier.setdefault("percent", None)
    p = create_program(data)
    db.session.commit()
    return p


def sale(referral=None, amount=10000, currency="usd", occurred_at=None, **kwargs):
    """A committed sale, linked to `referral` when given."""
    from datetime import datetime, timezone

    from rewards.sales.models import Sale

    number = next(_seq)
    s = Sale(external_id=kwargs.pop("external_id", f"sale-{number}"),
             email=kwargs.pop("email", f"buyer{number}@example.com"), amount=amount, currency=currency, source=kwargs.pop("source", "api"),
             occurred_at=occurred_at or datetime(2026, 3, 1, 12, tzinfo=timezone.utc),
             referral_id=referral.id if referral else None, **kwargs)
    db.session.add(s)
    db.session.commit()
    return s


def qualify(referral, s):
    """Mark the referral qualified by sale `s` and grant its reward through the bulk grant every automatic grant
    takes (grant_reward is grant_rewards of one pair); committed."""
    from rewards.programs.granting import grant_reward

    referral.status = "qualified"
    s.referral_id = referral.id
    reward = grant_reward(referral, s)
    db.session.commit()
    return reward


def rewarded_sale(referrer=None, amount=10000, currency="usd", occurred_at=None):
    """A referral of `referrer`, made the day before, qualified by a new sale; returns the reward (or None)."""
    from datetime import datetime, timedelta, timezone

    occurred_at = occurred_at or datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    r = referral(referrer, created_at=occurred_at - timedelta(days=1))
    return qualify(r, sale(r, amount=amount, currency=currency, occurred_at=occurred_at))


def refund(s, amount):
    """A refund of `amount` on sale `s`, recorded through the sales door the API uses; committed."""
    from rewards.sales.service import record_refund

    record_refund(s.external_id, f"refund-{next(_seq)}", amount, "api")
    db.session.commit()
    db.session.refresh(s)
