"""A small finance history for the report tests, through the production paths (payouts against the fake Stripe
server), with known figures. Needs the app pointed at the fake (tests.payouts_support's app_config).

Two currencies (usd, and jpy which has no minor unit):
- A usd: rewards of 1000 and 2000 (10 % of 10000 and 20000); the second's sale is partly refunded before payout
  (reduce 500); both paid in one Stripe transfer of 2500; then the first's sale is refunded in full after payout
  (clawback 1000: a debt); then Stripe reverses 300 of the transfer (transfer.reversed webhook).
- A jpy: a reward of 500, paid by Stripe transfer.
- B usd: a reward of 1000 reversed by a full refund before payout; later a reward of 3000 batched in a draft.
- C usd: a reward of 2000 whose transfer fails at Stripe (account not ready there); finance pays it by hand.
"""
from dataclasses import dataclass, field

import sqlalchemy as sa

from rewards.extensions import db
from rewards.ledger.models import LedgerTransaction
from rewards.payouts import service
from rewards.payouts.executor import execute_batch
from rewards.payouts.models import PayoutAccount, PayoutItem
from tests import factories
from tests import stripe_events as se
from tests.payouts_support import account_row, transfer_event, users_of_finance

# (customer, currency) → (rewards_earned, rewards_reversed, paid) over the whole history.
EXPECTED = {("a", "usd"): (3000, 1500, 2200), ("a", "jpy"): (500, 0, 500), ("b", "usd"): (4000, 1000, 0),
            ("c", "usd"): (2000, 0, 2000)}
MANUAL_REFERENCE = "bank transfer 42"


@dataclass
class FinanceData:
    a: object
    b: object
    c: object
    rewards: dict = field(default_factory=dict)
    items: dict = field(default_factory=dict)

    def customer(self, name):
        return getattr(self, name)


def _item(batch, customer) -> PayoutItem:
    return db.session.scalar(db.select(PayoutItem).filter_by(batch_id=batch.id, customer_id=customer.id))


def seed(fake, client) -> FinanceData:
    """The history above; `client` delivers the webhook."""
    factories.program(currency="usd", reward_type="percent", percent="10")
    factories.program(currency="jpy", amount=500)
    data = FinanceData(factories.customer(email="alice.a@example.com", name="Alice A"),
                       factories.customer(email="=1+2@example.com", name="Bob B"),
                       factories.customer(email="carol.c@example.com", name="Carol C"))
    fake.balance["jpy"] = 10**9  # the platform holds yen too
    for customer in (data.a, data.b, data.c):
        account_row(fake, customer)
    r = data.rewards
    r["a1"] = factories.rewarded_sale(data.a, amount=10000)
    r["a2"] = factories.rewarded_sale(data.a, amount=20000)
    r["a3"] = factories.rewarded_sale(data.a, amount=50000, currency="jpy")
    r["b1"] = factories.rewarded_sale(data.b, amount=10000)
    r["c1"] = factories.rewarded_sale(data.c, amount=20000)
    factories.refund(r["a2"].sale, 5000)       # reduce 500 before payout
    factories.refund(r["b1"].sale, 10000)      # reverse 1000 before payout
    drafter, approver = users_of_finance()
    c_account = db.session.scalar(db.select(PayoutAccount).filter_by(customer_id=data.c.id))
    fake.set_ready(c_account.stripe_account_id, False)  # Stripe refuses C's transfer; Refero still thinks it ready
    batches = {}
    for currency in ("usd", "jpy"):
        batch = service.draft_batch(currency, 1, drafter)
        db.session.commit()
        service.approve_batch(batch.id, approver)
        db.session.commit()
        execute_batch(batch.id)
        batches[currency] = batch
    data.items = {"a_usd": _item(batches["usd"], data.a), "a_jpy": _item(batches["jpy"], data.a),
                  "c_usd": _item(batches["usd"], data.c)}
    assert data.items["c_usd"].status == "failed" and data.items["a_usd"].status == "paid"
    service.mark_paid_manually(batches["usd"].id, data.items["c_usd"].id, MANUAL_REFERENCE, approver)
    db.session.commit()
    factories.refund(r["a1"].sale, 10000)      # after payout: clawback 1000, a debt
    transfer_id = data.items["a_usd"].stripe_transfer_id
    fake.reverse(transfer_id, 300)             # Stripe takes 300 of A's transfer back
    assert se.deliver(client, transfer_event("transfer.reversed", fake.transfers[transfer_id])).status_code == 200
    r["b2"] = factories.rewarded_sale(data.b, amount=30000)
    data.items["b_draft"] = _item(service.draft_batch("usd", 1, drafter), data.b)  # in transit, never sent
    db.session.commit()
    for item in data.items.values():
        db.session.refresh(item)
    return data


def backdate(transaction, moment) -> None:
    """Move a posted transaction to `moment`, as if it had been posted then and had happened then (committed). Only
    tests rewrite history: on PostgreSQL the ledger's immutability trigger is bypassed for this one statement."""
    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    db.session.execute(sa.update(LedgerTransaction).where(LedgerTransaction.id == transaction.id)
                       .values(created_at=moment, effective_at=moment))
    db.session.commit()
    db.session.expire_all()
