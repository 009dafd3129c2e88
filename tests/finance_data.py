"""A small finance history for the report tests, through the production paths, with known figures.

Two currencies (usd, and jpy which has no minor unit); referrer A in both, referrer B in usd:
- A usd: rewards of 1000 and 2000 (10 % of 10000 and 20000); the second's sale is partly refunded (reduce 500);
  both paid out in one payout of 2500; then the first's sale is refunded in full after payout (clawback 1000:
  a debt); then 300 of the payout comes back (transfer reversal).
- A jpy: a reward of 500, paid out.
- B usd: a reward of 1000 reversed by a full refund before payout; a reward of 3000 batched and not paid.
"""
from dataclasses import dataclass, field
from datetime import datetime, timezone

from rewards.extensions import db
from rewards.ledger.payouts import batch_payable, confirm_paid, reverse_transfer
from tests import factories

LATER = datetime(2100, 1, 1, tzinfo=timezone.utc)  # every hold has ended by then

# (customer, currency) → (rewards_earned, rewards_reversed, paid) over the whole history.
EXPECTED = {("a", "usd"): (3000, 1500, 2200), ("a", "jpy"): (500, 0, 500), ("b", "usd"): (4000, 1000, 0)}


@dataclass
class FinanceData:
    a: object
    b: object
    rewards: dict = field(default_factory=dict)

    def customer(self, name):
        return getattr(self, name)


def seed() -> FinanceData:
    factories.program(currency="usd", reward_type="percent", percent="10")
    factories.program(currency="jpy", amount=500)
    data = FinanceData(factories.customer(email="alice.a@example.com", name="Alice A"),
                       factories.customer(email="=1+2@example.com", name="Bob B"))
    r = data.rewards
    r["a1"] = factories.rewarded_sale(data.a, amount=10000)
    r["a2"] = factories.rewarded_sale(data.a, amount=20000)
    r["a3"] = factories.rewarded_sale(data.a, amount=50000, currency="jpy")
    r["b1"] = factories.rewarded_sale(data.b, amount=10000)
    factories.refund(r["a2"].sale, 5000)       # reduce 500 before payout
    factories.refund(r["b1"].sale, 10000)      # reverse 1000 before payout
    usd = batch_payable(data.a.id, "usd", at=LATER)
    jpy = batch_payable(data.a.id, "jpy", at=LATER)
    db.session.commit()
    confirm_paid(data.a.id, "usd", usd.rewards, usd.net)
    confirm_paid(data.a.id, "jpy", jpy.rewards, jpy.net)
    db.session.commit()
    factories.refund(r["a1"].sale, 10000)      # after payout: clawback 1000, a debt
    reverse_transfer(data.a.id, "usd", 300)   # 300 of the payout came back
    db.session.commit()
    r["b2"] = factories.rewarded_sale(data.b, amount=30000)
    batch_payable(data.b.id, "usd", at=LATER)  # in transit, never confirmed
    db.session.commit()
    return data


def backdate(transaction, moment) -> None:
    """Move a posted transaction to `moment`, as if it had been posted then (committed). Only tests rewrite
    history: on PostgreSQL the ledger's immutability trigger is bypassed for this one statement."""
    import sqlalchemy as sa

    from rewards.ledger.models import LedgerTransaction

    if db.engine.dialect.name == "postgresql":
        db.session.execute(sa.text("SET LOCAL session_replication_role = replica"))
    db.session.execute(sa.update(LedgerTransaction).where(LedgerTransaction.id == transaction.id)
                       .values(created_at=moment))
    db.session.commit()
    db.session.expire_all()
