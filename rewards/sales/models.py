"""Sales (purchases reported by the API, CSV imports or Stripe), their refunds, processed Stripe events,
and the decisions that weighed a sale against a referral."""
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

SALE_SOURCES = ("api", "csv", "stripe")
DECISION_OUTCOMES = ("qualified", "review", "pending", "rejected")


class Sale(db.Model):
    """A purchase; never deleted. Unique by external id and, for Stripe, by PaymentIntent."""

    __tablename__ = "sales"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    # Empty when the payment named no email (some Stripe events); such a sale matches by phone or not at all.
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    referral_code: Mapped[str | None] = mapped_column(String(32), index=True)
    payment_fingerprint: Mapped[str | None] = mapped_column(String(255))
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    # Hash of the reported content: the same external_id with other content is a conflict, not a duplicate.
    content_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral = relationship("Referral")
    refunds = relationship("Refund", back_populates="sale", order_by="Refund.id")

    @property
    def refunded_amount(self) -> int:
        return sum(refund.amount for refund in self.refunds)


class Refund(db.Model):
    """Part or all of a sale taken back; unique by its own external id.

    A refund may arrive before its sale (webhooks come in any order): it is kept with `sale_id` empty
    and `sale_ref` naming the sale (external id or PaymentIntent), and applied when that sale lands.
    """

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True)
    sale_ref: Mapped[str | None] = mapped_column(String(255), index=True)
    amount: Mapped[int]
    source: Mapped[str | None] = mapped_column(String(10))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sale = relationship("Sale", back_populates="refunds")


class StripeEvent(db.Model):
    """A verified Stripe event, stored by the webhook request and processed once by a worker.

    Its id is unique, so a replay or a concurrent retry stores nothing new; `processed_at` is set in the
    same transaction as the event's effects, so a worker that dies midway leaves it to be processed again.
    """

    __tablename__ = "stripe_events"
    # The backlog: events waiting for a worker, oldest first (a small index, as processed events leave it).
    __table_args__ = (Index("ix_stripe_events_waiting", "received_at", postgresql_where=text("processed_at IS NULL"),
                            sqlite_where=text("processed_at IS NULL")),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[dict | None] = mapped_column(JSON)
    # The webhook request's id, so the worker's log lines name the request that brought the event.
    request_id: Mapped[str | None] = mapped_column(String(64))
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Decision(db.Model):
    """The record of weighing a sale against a referral: each check, the outcome, who decided and when.

    checks: [{"name", "passed", "detail"}]; decided_by_id empty means the rules decided.
    """

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_referral_id_id", "referral_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"))
    sale_id: Mapped[int | None] = mapped_column(ForeignKey("sales.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    checks: Mapped[list] = mapped_column(JSON, default=list)
    reason: Mapped[str | None] = mapped_column(Text)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    decided_by = relationship("User")

    @property
    def decided_by_label(self) -> str:
        return self.decided_by.email if self.decided_by is not None else "rules"
