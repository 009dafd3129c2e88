"""The ledger legs of a reward's life before payout: earned, reduced or reversed, clawed back as a debt."""
from rewards.ledger.models import LedgerTransaction
from rewards.ledger.service import Leg, expense_account, post, referrer_account


def post_earned(reward) -> LedgerTransaction | None:
    """Reward expense → the referrer's earned balance."""
    return post("earn", [
        Leg(expense_account(reward.currency), -reward.amount, reward.id),
        Leg(referrer_account("referrer_earned", reward.referrer_id, reward.currency), reward.amount, reward.id),
    ], memo=f"reward {reward.id} earned", customer_id=reward.referrer_id)


def post_taken_back(reward, amount: int, kind: str = "reduce") -> LedgerTransaction | None:
    """An unpaid reward shrinks or is reversed: out of the referrer's earned balance, back to expense."""
    return post(kind, [
        Leg(referrer_account("referrer_earned", reward.referrer_id, reward.currency), -amount, reward.id),
        Leg(expense_account(reward.currency), amount, reward.id),
    ], memo=f"reward {reward.id}: {kind} {amount}", customer_id=reward.referrer_id)


def post_clawback(reward, amount: int) -> LedgerTransaction | None:
    """A batched or paid reward's sale was refunded: the referrer owes `amount` (debt), netted at the next payout."""
    return post("clawback", [
        Leg(referrer_account("referrer_debt", reward.referrer_id, reward.currency), -amount, reward.id),
        Leg(expense_account(reward.currency), amount, reward.id),
    ], memo=f"reward {reward.id}: clawback {amount} after payout", customer_id=reward.referrer_id)
