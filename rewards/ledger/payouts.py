"""Ledger legs of paying rewards out, for the payouts feature: batch, confirm paid, transfer reversed.

earned (+ debt netted) → payouts in transit → paid out; a reversed transfer goes paid out → earned.
Payout batches and items themselves belong to the payouts package; these functions only move money.
"""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func

from rewards import audit
from rewards.clock import utcnow
from rewards.errors import Conflict, InvalidInput
from rewards.extensions import db
from rewards.ledger.models import LedgerEntry, LedgerTransaction
from rewards.ledger.service import Leg, balance, post, referrer_account
from rewards.programs.models import Reward
from rewards.programs.service import lock_referrer


@dataclass
class Batched:
    """What one referrer's payout carries: `net` = `gross` − `netted` debt is the transfer to send."""

    customer_id: int
    currency: str
    rewards: list[Reward] = field(default_factory=list)
    gross: int = 0
    netted: int = 0
    net: int = 0
    transaction: LedgerTransaction | None = None


def payable_rewards(customer_id: int, currency: str, at: datetime | None = None) -> list[Reward]:
    """The referrer's rewards whose hold has ended by `at` (default now) and that are in no batch yet."""
    at = at or utcnow()
    return list(db.session.scalars(
        db.select(Reward).where(
            Reward.referrer_id == customer_id, Reward.currency == currency,
            (Reward.status == "payable") | ((Reward.status == "held") & (Reward.payable_at <= at)))
        .order_by(Reward.id).execution_options(populate_existing=True)))


def _untagged_balance(account) -> int:
    """Money on the account that belongs to no reward: a reversed transfer waiting to be paid again."""
    return int(db.session.scalar(
        db.select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .where(LedgerEntry.account_id == account.id, LedgerEntry.reward_id.is_(None))))


def batch_payable(customer_id: int, currency: str, at: datetime | None = None,
                  idempotency_key: str | None = None) -> Batched | None:
    """Move the referrer's payable money into transit (not committed), netting their debt; None if nothing is payable.

    The rewards become `batched`; the transfer to send is the result's `net` (never negative, maybe 0).
    """
    lock_referrer(customer_id)
    earned = referrer_account("referrer_earned", customer_id, currency)
    debt = referrer_account("referrer_debt", customer_id, currency)
    rewards = payable_rewards(customer_id, currency, at)
    loose = max(_untagged_balance(earned), 0)
    gross = sum(reward.amount for reward in rewards) + loose
    if not rewards and gross == 0:
        return None
    netted = min(-balance(debt), gross) if balance(debt) < 0 else 0
    result = Batched(customer_id, currency, rewards, gross, netted, gross - netted)
    legs = [Leg(earned, -reward.amount, reward.id) for reward in rewards]
    legs += [Leg(earned, -loose), Leg(debt, netted),
             Leg(referrer_account("payouts_in_transit", customer_id, currency), result.net)]
    result.transaction = post("batch", legs, memo=f"payout batch: {len(rewards)} rewards, net {result.net}",
                              customer_id=customer_id, idempotency_key=idempotency_key)
    for reward in rewards:
        reward.status = "batched"
        audit.record("reward.batched", reward, {"amount": reward.amount})
    db.session.flush()
    return result


def confirm_paid(customer_id: int, currency: str, rewards: list[Reward], amount: int,
                 idempotency_key: str | None = None) -> LedgerTransaction | None:
    """The transfer of `amount` arrived (not committed): in transit → paid out, and the rewards are `paid`."""
    lock_referrer(customer_id)
    if idempotency_key and db.session.scalar(db.select(LedgerTransaction).filter_by(idempotency_key=idempotency_key)):
        return db.session.scalar(db.select(LedgerTransaction).filter_by(idempotency_key=idempotency_key))
    for reward in rewards:
        db.session.refresh(reward)
        if reward.status != "batched" or reward.referrer_id != customer_id or reward.currency != currency:
            raise Conflict(f"Reward {reward.id} is not in this referrer's batch (it is {reward.status}).")
    transit = referrer_account("payouts_in_transit", customer_id, currency)
    if amount < 0 or amount > balance(transit):
        raise Conflict(f"{amount} is not in transit to customer {customer_id} in {currency}.")
    transaction = post("paid", [Leg(transit, -amount),
                                Leg(referrer_account("paid_out", customer_id, currency), amount)],
                       memo=f"payout of {amount} confirmed", customer_id=customer_id, idempotency_key=idempotency_key)
    for reward in rewards:
        reward.status = "paid"
        audit.record("reward.paid", reward, {"amount": reward.amount})
    db.session.flush()
    return transaction


def reverse_transfer(customer_id: int, currency: str, amount: int,
                     idempotency_key: str | None = None) -> LedgerTransaction:
    """A paid transfer was taken back (not committed): paid out → the referrer's earned balance, paid again later."""
    lock_referrer(customer_id)
    if idempotency_key and db.session.scalar(db.select(LedgerTransaction).filter_by(idempotency_key=idempotency_key)):
        return db.session.scalar(db.select(LedgerTransaction).filter_by(idempotency_key=idempotency_key))
    paid_out = referrer_account("paid_out", customer_id, currency)
    if amount <= 0 or amount > balance(paid_out):
        raise InvalidInput(f"Only money paid out can be reversed: {amount} exceeds what customer "
                           f"{customer_id} was paid in {currency}.", "amount")
    transaction = post("transfer_reversal", [Leg(paid_out, -amount),
                                             Leg(referrer_account("referrer_earned", customer_id, currency), amount)],
                       memo=f"transfer of {amount} reversed", customer_id=customer_id, idempotency_key=idempotency_key)
    audit.record("payout.transfer_reversed", transaction, {"amount": amount, "currency": currency,
                                                            "customer_id": customer_id})
    return transaction
