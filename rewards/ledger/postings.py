"""The ledger legs of a reward's life before payout: earned, reduced or reversed, clawed back as a debt."""
from rewards.ledger.models import LedgerTransaction
from rewards.ledger.service import AccountRef, Leg, NewTransaction, post


def earning(reward_id: int, referrer_id: int, currency: str, amount: int) -> NewTransaction:
    """Reward expense → the referrer's earned balance; nothing is posted for a reward of 0."""
    return NewTransaction("earn", [
        Leg(AccountRef("reward_expense", currency), -amount, reward_id),
        Leg(AccountRef("referrer_earned", currency, referrer_id), amount, reward_id),
    ], memo=f"reward {reward_id} earned", customer_id=referrer_id)


def post_earned(reward) -> LedgerTransaction | None:
    """The `earn` transaction of one reward (not committed); the bulk grant posts the same through post_many."""
    earned = earning(reward.id, reward.referrer_id, reward.currency, reward.amount)
    return post(earned.kind, earned.legs, memo=earned.memo, customer_id=earned.customer_id)


def post_taken_back(reward, amount: int, kind: str = "reduce") -> LedgerTransaction | None:
    """An unpaid reward shrinks or is reversed: out of the referrer's earned balance, back to expense."""
    return post(kind, [
        Leg(AccountRef("referrer_earned", reward.currency, reward.referrer_id), -amount, reward.id),
        Leg(AccountRef("reward_expense", reward.currency), amount, reward.id),
    ], memo=f"reward {reward.id}: {kind} {amount}", customer_id=reward.referrer_id)


def post_clawback(reward, amount: int) -> LedgerTransaction | None:
    """A batched or paid reward's sale was refunded: the referrer owes `amount` (debt), netted at the next payout."""
    return post("clawback", [
        Leg(AccountRef("referrer_debt", reward.currency, reward.referrer_id), -amount, reward.id),
        Leg(AccountRef("reward_expense", reward.currency), amount, reward.id),
    ], memo=f"reward {reward.id}: clawback {amount} after payout", customer_id=reward.referrer_id)
