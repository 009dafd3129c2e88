"""Ledger accounts, transactions and entries, and the rewards whose money they carry.

Balances are sums of entries, never stored apart. A reward (what a qualified referral earns its referrer)
lives here, at the bottom, because every leg of its money is tagged with it and the payout postings move
it from state to state; the rules that size it live in `rewards.programs`, above.
"""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, case
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

# Per referrer and currency: what we owe them (earned), what they owe us after a clawback (debt, kept
# negative), what is on its way to them (in transit) and what reached them (paid out).
REFERRER_KINDS = ("referrer_earned", "referrer_debt", "payouts_in_transit", "paid_out")
# Per currency: the business's side of every reward.
COMPANY_KINDS = ("reward_expense",)
ACCOUNT_KINDS = REFERRER_KINDS + COMPANY_KINDS

REWARD_STATUSES = ("held", "payable", "batched", "paid", "reversed")
# Statuses whose money has left the referrer's earned balance: a refund then leaves a debt instead.
SETTLING_STATUSES = ("batched", "paid")


class Account(db.Model):
    __tablename__ = "ledger_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # kind:currency[:customer_id], unique, so two workers creating the same account meet on the constraint.
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(24))
    currency: Mapped[str] = mapped_column(String(3))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def __repr__(self):
        return f"<Account {self.key}>"


class LedgerTransaction(db.Model):
    __tablename__ = "ledger_transactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), index=True)
    memo: Mapped[str] = mapped_column(Text, default="")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # Set when the same business event must never post twice (see rewards.ledger.payouts for the scheme).
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    # A `paid` or `release` transaction: the `batch` transaction it settles or undoes. Unique, so a batch is
    # settled or released once, never both.
    batch_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"), unique=True)
    # When Refero recorded it.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When it happened, the time it counts by in every report: the posting time, or, for what Stripe did (a transfer
    # that settles a payout, a transfer reversal), Stripe's `created` for it, however late Refero heard of it.
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    entries = relationship("LedgerEntry", back_populates="transaction", order_by="LedgerEntry.id")


class LedgerEntry(db.Model):
    """One leg: a signed amount on an account. Never changed or deleted; corrected by new transactions."""

    __tablename__ = "ledger_entries"
    __table_args__ = (CheckConstraint("amount <> 0", name="amount_not_zero"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transactions.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    # The account's currency, repeated so the database can check sums per currency without a join.
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    reward_id: Mapped[int | None] = mapped_column(ForeignKey("rewards.id"), index=True)

    transaction = relationship("LedgerTransaction", back_populates="entries")
    account = relationship("Account")


class Reward(db.Model):
    """What a qualified referral earns its referrer; `payable` is derived from `payable_at` while held.

    `amount` is the reward's current size (lowered by refunds while unpaid); `clawback_amount` is what
    refunds took back after it was batched or paid, owed by the referrer as a debt.
    """

    __tablename__ = "rewards"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_not_negative"),
        CheckConstraint("clawback_amount >= 0 AND clawback_amount <= amount", name="clawback_within_amount"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # A referral qualifies at most once, so it earns at most one reward.
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), unique=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    amount: Mapped[int]
    granted_amount: Mapped[int]
    clawback_amount: Mapped[int] = mapped_column(default=0)
    # The tier applied (its from_referral), None for the program's base rule.
    tier_from_referral: Mapped[int | None]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="held", index=True)
    payable_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reversed_reason: Mapped[str | None] = mapped_column(Text)
    referee_coupon_code: Mapped[str | None] = mapped_column(String(64))
    referee_credit_amount: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral = relationship("Referral")
    referrer = relationship("Customer")
    sale = relationship("Sale")
    program = relationship("Program")

    @property
    def effective_status(self) -> str:
        if self.status == "held" and self.payable_at <= utcnow():
            return "payable"
        return self.status

    @hybrid_property
    def value(self) -> int:
        """What the referrer keeps from this reward: nothing once reversed, less any clawback (also in SQL)."""
        return 0 if self.status == "reversed" else self.amount - self.clawback_amount

    @value.inplace.expression
    @classmethod
    def _value_expression(cls):
        return case((cls.status == "reversed", 0), else_=cls.amount - cls.clawback_amount)
