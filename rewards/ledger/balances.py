"""The one balance read model: a referrer's money per currency, read from ledger entries and reward states.

Every page and endpoint that shows a referrer's money reads it here (the portal, the staff customer page,
the dashboard's totals, `GET /api/v1/customers/{id}/balance`, finance reports), for one referrer, many at
once, or summed over all of them. Per currency, in minor units:

- `earned`: what the rewards were granted at, in total;
- `held`: earned money of rewards whose hold has not ended (`held_condition`);
- `payable`: the rest of the earned balance: rewards out of hold and not in a payout, plus money a reversed
  transfer gave back. The same figure as `payable_summary(...).gross` (rewards.ledger.payouts), which
  decides what a batch takes by `payable_condition`; the referrer's debt is not netted here (see `owed`);
- `batched`: in a payout batch, on its way (payouts in transit);
- `paid`: paid out (less reversed transfers);
- `reversed`: what refunds took back from the rewards (reductions, reversals, clawbacks);
- `owed`: the referrer's debt after a refund of a batched or paid reward, netted off the next payout.

They add up: held + payable + batched + paid − owed = earned − reversed (`ledger check` proves the ledger
side of it).
"""
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select

from rewards.bulk import among, chunks
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, Reward

CHUNK = 5000
# Referrer account kind → the balance field it is, with the sign that makes the field positive.
ACCOUNT_FIELDS = {"payouts_in_transit": ("batched", 1), "paid_out": ("paid", 1), "referrer_debt": ("owed", -1)}


@dataclass(frozen=True)
class Balance:
    """One referrer's (or all referrers') money in one currency; see the module docstring for each figure."""

    currency: str
    earned: int = 0
    held: int = 0
    payable: int = 0
    batched: int = 0
    paid: int = 0
    reversed: int = 0
    owed: int = 0

    def as_dict(self) -> dict:
        return asdict(self)


def held_condition(at: datetime):
    """SQL: the reward's money is still on hold at `at` (its sale may yet be refunded)."""
    return (Reward.status == "held") & (Reward.payable_at > at)


def payable_condition(at: datetime):
    """SQL: the reward's hold has ended by `at`, it is in no batch yet and worth something: what a batch takes."""
    return (Reward.amount > 0) & ((Reward.status == "payable") | ((Reward.status == "held") & (Reward.payable_at <= at)))


def _rows(query, column, customer_ids):
    if customer_ids is None:
        return db.session.execute(query).all()
    rows = []
    for chunk in chunks(sorted(set(customer_ids)), CHUNK):
        rows += db.session.execute(query.where(among(column, chunk))).all()
    return rows


def _figures(customer_ids: list[int] | None, at: datetime, per_customer: bool) -> dict[tuple, dict[str, int]]:
    """{(customer_id or None, currency): {field: amount}} from two grouped queries (ledger, rewards)."""
    figures: dict[tuple, dict[str, int]] = {}

    def row(customer_id, currency) -> dict[str, int]:
        return figures.setdefault((customer_id if per_customer else None, currency), {})

    who = [Account.customer_id] if per_customer else []
    for *key, kind, total in _rows(
            select(*who, Account.currency, Account.kind, func.sum(LedgerEntry.amount))
            .join(LedgerEntry, LedgerEntry.account_id == Account.id).where(Account.customer_id.is_not(None))
            .group_by(*who, Account.currency, Account.kind), Account.customer_id, customer_ids):
        customer_id, currency = key if per_customer else (None, key[0])
        figure, sign = ACCOUNT_FIELDS.get(kind, ("earned_balance", 1))
        fields = row(customer_id, currency)
        fields[figure] = fields.get(figure, 0) + sign * int(total)
    who = [Reward.referrer_id] if per_customer else []
    for *key, granted, taken, held in _rows(
            select(*who, Reward.currency, func.sum(Reward.granted_amount), func.sum(Reward.granted_amount - Reward.value),
                   func.coalesce(func.sum(Reward.amount).filter(held_condition(at)), 0))
            .group_by(*who, Reward.currency), Reward.referrer_id, customer_ids):
        customer_id, currency = key if per_customer else (None, key[0])
        row(customer_id, currency).update(earned=int(granted), reversed=int(taken), held=int(held))
    return figures


def _balance(currency: str, fields: dict[str, int]) -> Balance:
    held = fields.get("held", 0)
    return Balance(currency, earned=fields.get("earned", 0), held=held,
                   payable=fields.get("earned_balance", 0) - held, batched=fields.get("batched", 0),
                   paid=fields.get("paid", 0), reversed=fields.get("reversed", 0), owed=fields.get("owed", 0))


def balances(customer_ids: list[int], at: datetime | None = None) -> dict[int, list[Balance]]:
    """{customer_id: [Balance per currency, by currency]} for many referrers at once (absent: no money yet)."""
    result: dict[int, list[Balance]] = {}
    for (customer_id, currency), fields in sorted(_figures(customer_ids, at or utcnow(), True).items()):
        result.setdefault(customer_id, []).append(_balance(currency, fields))
    return result


def customer_balances(customer_id: int, at: datetime | None = None) -> list[Balance]:
    """The referrer's Balance per currency, by currency (empty before their first reward)."""
    return balances([customer_id], at).get(customer_id, [])


def balance_totals(at: datetime | None = None) -> list[Balance]:
    """Every referrer's money summed per currency, by currency (the dashboard's figures)."""
    return [_balance(currency, fields)
            for (_, currency), fields in sorted(_figures(None, at or utcnow(), False).items())]
