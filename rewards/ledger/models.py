"""Ledger accounts, transactions and entries. Balances are sums of entries, never stored apart."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
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
    # Set when the same business event must never post twice (a transfer id, a batch item…).
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

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
