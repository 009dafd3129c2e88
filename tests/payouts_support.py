"""Shared by the payout tests: the fake Stripe server, an app pointed at it, referrers with money to pay."""
import copy
import time
import uuid

import pytest

from rewards.extensions import db
from rewards.payouts.models import PayoutAccount, PayoutBatch
from tests import factories
from tests import stripe_events as se
from tests.fake_stripe import FakeStripe, fixture

SECRET_KEY = "sk_test_refero_fake"
CONNECT_SECRET = "whsec_test_refero_connect"


def stripe_settings(fake: FakeStripe, **extra) -> dict:
    """App settings for a test against the fake: short timeouts and backoffs so faults resolve in a test's time."""
    return {"STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_API_BASE": fake.url, "STRIPE_TIMEOUT_SECONDS": 0.5,
            "STRIPE_MAX_REQUESTS_PER_SECOND": 2000, "PAYOUT_BACKOFF_SECONDS": 0.05, "PAYOUT_BACKOFF_MAX_SECONDS": 0.2,
            "PAYOUT_LEASE_SECONDS": 30, "PAYOUT_MINIMUM_AMOUNT": 500, "PAYOUT_CONCURRENCY": 4, "PAYOUT_MAX_ATTEMPTS": 8,
            "STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET, "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_SECRET, **extra}


@pytest.fixture
def fake_stripe():
    fake = FakeStripe()
    fake.timeout_delay = 1.0
    fake.serve()
    yield fake
    fake.stop()


@pytest.fixture
def app_config(fake_stripe):
    return stripe_settings(fake_stripe)


def account_row(fake: FakeStripe, customer, ready=True) -> PayoutAccount:
    """A connected account at the fake and its row here, as onboarding would leave them (committed)."""
    remote = fake.add_account(ready=ready)
    account = PayoutAccount(customer_id=customer.id, stripe_account_id=remote["id"], payouts_enabled=ready,
                            transfers_capability="active" if ready else "inactive", details_submitted=ready,
                            requirements_due=[] if ready else ["external_account"])
    db.session.add(account)
    db.session.commit()
    return account


def referrer_owed(fake: FakeStripe, amount=1000, ready=True, account=True, rewards=1, currency="usd"):
    """A customer with `rewards` payable rewards of `amount` each and, if `account`, a payout account."""
    customer = factories.customer(name=f"Rita {uuid.uuid4().hex[:6]}")
    for _ in range(rewards):
        factories.rewarded_sale(customer, amount=amount * 10, currency=currency)
    if account:
        account_row(fake, customer, ready)
    return customer


def many_referrers_owed(fake: FakeStripe, count: int, amount=1000, currency="usd") -> list[int]:
    """`count` referrers, each with one payable reward earned in the ledger and a ready account, written in bulk
    (the same rows and ledger legs the one-by-one path writes; far fewer round trips). Returns their ids."""
    from datetime import timedelta

    from rewards.clock import utcnow
    from rewards.customers.models import Customer
    from rewards.ledger.models import Reward
    from rewards.ledger.postings import earning
    from rewards.ledger.service import post_many
    from rewards.referrals.models import Referral
    from rewards.sales.models import Sale

    program = factories.program(amount=amount, currency=currency)
    then = utcnow() - timedelta(days=60)
    tag = uuid.uuid4().hex[:8]
    customers = [Customer(email=f"bulk-{tag}-{i}@example.com", name=f"Bulk Referrer {i}") for i in range(count)]
    db.session.add_all(customers)
    db.session.flush()
    referrals = [Referral(referrer_id=c.id, referee_email=f"friend-{tag}-{i}@example.org", referee_name="Friend",
                          status="qualified", source="api", created_at=then) for i, c in enumerate(customers)]
    db.session.add_all(referrals)
    db.session.flush()
    sales = [Sale(external_id=f"bulk-{tag}-{i}", email=r.referee_email, amount=amount * 10, currency=currency,
                  occurred_at=then, source="api", referral_id=r.id) for i, r in enumerate(referrals)]
    db.session.add_all(sales)
    db.session.flush()
    rewards = [Reward(referral_id=r.id, referrer_id=r.referrer_id, sale_id=s.id, program_id=program.id,
                      amount=amount, granted_amount=amount, currency=currency, status="payable",
                      payable_at=then + timedelta(days=14)) for r, s in zip(referrals, sales)]
    db.session.add_all(rewards)
    db.session.flush()
    post_many([earning(r.id, r.referrer_id, currency, r.amount) for r in rewards])
    db.session.add_all([PayoutAccount(customer_id=c.id, stripe_account_id=fake.add_account(ready=True)["id"],
                                      payouts_enabled=True, transfers_capability="active", details_submitted=True,
                                      requirements_due=[]) for c in customers])
    db.session.commit()
    return [c.id for c in customers]


def users_of_finance():
    """Two finance users: one drafts, the other approves (four eyes)."""
    return factories.user(role="finance"), factories.user(role="finance")


def approved_batch(fake, referrers=3, amount=1000, currency="usd") -> PayoutBatch:
    """A batch of `referrers` items, drafted by one finance user and approved by another (committed)."""
    from rewards.payouts import service

    factories.program(amount=amount, currency=currency)
    for _ in range(referrers):
        referrer_owed(fake, amount, currency=currency)
    drafter, approver = users_of_finance()
    batch = service.draft_batch(currency, None, drafter)
    db.session.commit()
    service.approve_batch(batch.id, approver)
    db.session.commit()
    return batch


def transfer_event(event_type: str, transfer: dict, event_id: str | None = None) -> dict:
    return se.event(event_type, copy.deepcopy(transfer), event_id)


def account_event(account: dict, created: int | None = None, event_id: str | None = None) -> dict:
    evt = se.event("account.updated", copy.deepcopy(account), event_id)
    evt["account"] = account["id"]
    evt["created"] = created if created is not None else int(time.time())
    return evt


def deliver_connect(client, evt):
    return se.deliver(client, evt, CONNECT_SECRET)


__all__ = ["fake_stripe", "app_config", "fixture"]
