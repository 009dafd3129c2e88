"""Payout accounts (Stripe connected accounts), payout batches, their items (one transfer each) and reversals."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

BATCH_STATUSES = ("draft", "approved", "processing", "paid", "partially_failed", "cancelled")
ITEM_STATUSES = ("pending", "paid", "failed", "review")
# Where an item's current attempt stands: `new` (no key used yet), `sent` (the key is committed and the call may
# have reached Stripe: resend the same key), `error` (Stripe answered this key with an error, which it keeps for 24
# hours: list the transfer group before trying the next generation's key).
ATTEMPT_STATES = ("new", "sent", "error")


class PayoutAccount(db.Model):
    """A customer's Stripe connected account and whether it can receive transfers now."""

    __tablename__ = "payout_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    stripe_account_id: Mapped[str] = mapped_column(String(64), unique=True)
    payouts_enabled: Mapped[bool] = mapped_column(default=False)
    transfers_capability: Mapped[str] = mapped_column(String(20), default="inactive")
    details_submitted: Mapped[bool] = mapped_column(default=False)
    requirements_due: Mapped[list] = mapped_column(JSON, default=list)
    disabled_reason: Mapped[str | None] = mapped_column(String(100))
    # Stripe's time of the state stored here (an event's `created`, or when we read the account): older events
    # arriving late are ignored.
    state_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    customer = relationship("Customer")

    @property
    def ready(self) -> bool:
        """Transfers can land (capability active) and reach the bank (payouts enabled)."""
        return self.transfers_capability == "active" and self.payouts_enabled


class PayoutBatch(db.Model):
    """Finance's unit of paying: draft → approved (by a second person) → processing → paid | partially_failed."""

    __tablename__ = "payout_batches"
    __table_args__ = (CheckConstraint("total >= 0", name="total_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(20), default="draft", index=True)
    minimum_amount: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    # [{customer_id, reason}]: referrers with payable money left out, and why.
    skipped: Mapped[list] = mapped_column(JSON, default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    items = relationship("PayoutItem", back_populates="batch", order_by="PayoutItem.id")
    created_by = relationship("User", foreign_keys=[created_by_id])
    approved_by = relationship("User", foreign_keys=[approved_by_id])


class PayoutItem(db.Model):
    """One referrer's amount in a batch: one Stripe transfer (or one manual payment)."""

    __tablename__ = "payout_items"
    __table_args__ = (
        UniqueConstraint("batch_id", "customer_id", name="uq_payout_items_batch_customer"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("reversed_amount >= 0 AND reversed_amount <= amount", name="reversed_within_amount"),
        Index("ix_payout_items_batch_status", "batch_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("payout_batches.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    method: Mapped[str] = mapped_column(String(10), default="stripe")
    # The connected account at draft time: every attempt sends the same parameters under its key.
    destination: Mapped[str | None] = mapped_column(String(64))
    transfer_group: Mapped[str] = mapped_column(String(80), unique=True)
    stripe_transfer_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    attempt_generation: Mapped[int] = mapped_column(default=1)
    attempt_state: Mapped[str] = mapped_column(String(10), default="new")
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    key_first_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An executor working on the item holds it until lease_until; another may take it over after that.
    lease_owner: Mapped[str | None] = mapped_column(String(40))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failure_message: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(String(200))
    # When it was paid: Stripe's `created` of the transfer, or when finance recorded a manual payment.
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The ledger transaction that moved the money into transit when the batch was drafted.
    batch_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transactions.id"))
    reversed_amount: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    batch = relationship("PayoutBatch", back_populates="items")
    customer = relationship("Customer")

    @staticmethod
    def key_for(item_id: int, generation: int) -> str:
        """The idempotency key of the item's attempt generation `generation`."""
        return f"payout-item-{item_id}-g{generation}"


class PayoutReversal(db.Model):
    """Money Stripe reports taken back from a paid item's transfer, once per step of `amount_reversed`."""

    __tablename__ = "payout_reversals"

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("payout_items.id"), index=True)
    stripe_transfer_id: Mapped[str] = mapped_column(String(64))
    # Stripe's cumulative amount_reversed this row brings the item to: unique per item, so a replay adds nothing.
    reversed_to: Mapped[int]
    amount: Mapped[int]
    event_id: Mapped[str | None] = mapped_column(String(255))
    # When Stripe reversed it (the reversal's `created`), which payouts.csv and the ledger date it by.
    reversed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    # When Refero recorded it.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("item_id", "reversed_to", name="uq_payout_reversals_item_to"),
                      CheckConstraint("amount > 0", name="amount_positive"))
