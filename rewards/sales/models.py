"""Sales (purchases reported by the API, CSV imports or Stripe) and their refunds."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

SALE_SOURCES = ("api", "csv", "stripe")


class Sale(db.Model):
    """A purchase; never deleted. Unique by external id and, for Stripe, by PaymentIntent."""

    __tablename__ = "sales"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    email: Mapped[str] = mapped_column(String(254), index=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    referral_code: Mapped[str | None] = mapped_column(String(32))
    payment_fingerprint: Mapped[str | None] = mapped_column(String(255))
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(10))
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    referral = relationship("Referral")
    refunds = relationship("Refund", back_populates="sale", order_by="Refund.id")


class Refund(db.Model):
    """Part or all of a sale taken back; unique by its own external id."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(255), unique=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    amount: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    sale = relationship("Sale", back_populates="refunds")
