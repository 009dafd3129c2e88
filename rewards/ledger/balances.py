"""A referrer's money per currency, read from ledger entries: held, payable, batched, paid, debt."""
from sqlalchemy import func

from rewards.clock import utcnow
from rewards.extensions import db
from rewards.ledger.models import Account, LedgerEntry, Reward
from rewards.ledger.service import referrer_balances


def _held_by_currency(customer_id: int) -> dict[str, int]:
    """Earned money still tied to rewards whose hold has not ended."""
    rows = db.session.execute(
        db.select(Account.currency, func.sum(LedgerEntry.amount))
        .join(LedgerEntry, LedgerEntry.account_id == Account.id)
        .join(Reward, Reward.id == LedgerEntry.reward_id)
        .where(Account.customer_id == customer_id, Account.kind == "referrer_earned",
               Reward.status == "held", Reward.payable_at > utcnow())
        .group_by(Account.currency))
    return {currency: int(total) for currency, total in rows}


def customer_balances(customer_id: int) -> list[dict]:
    """[{currency, held, payable, batched, paid, debt}]: payable is earned money out of hold (debt not netted)."""
    held = _held_by_currency(customer_id)
    result = []
    for currency, kinds in sorted(referrer_balances(customer_id).items()):
        on_hold = held.get(currency, 0)
        result.append({"currency": currency, "held": on_hold, "payable": kinds["referrer_earned"] - on_hold,
                       "batched": kinds["payouts_in_transit"], "paid": kinds["paid_out"],
                       "debt": -kinds["referrer_debt"]})
    return result
