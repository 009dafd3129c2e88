"""Reward programs (versioned rules per currency) and the rewards they grant."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

REWARD_TYPES = ("flat", "percent")
REWARD_STATUSES = ("held", "payable", "batched", "paid", "reversed")


class Program(db.Model):
    """One version of the reward rules for a currency, in force from `effective_from` until a newer one."""

    __tablename__ = "programs"
    __table_args__ = (Index("ix_programs_currency_effective", "currency", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    reward_type: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int | None]
    percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    min_sale_amount: Mapped[int] = mapped_column(default=0)
    max_reward_amount: Mapped[int | None]
    attribution_days: Mapped[int]
    hold_days: Mapped[int]
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Reward(db.Model):
    """What a qualified referral earns its referrer; `payable` is derived from `payable_at` while held."""

    __tablename__ = "rewards"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_not_negative"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # A referral qualifies at most once, so it earns at most one reward.
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"), unique=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sales.id"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    amount: Mapped[int]
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10), default="held", index=True)
    payable_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reversed_reason: Mapped[str | None] = mapped_column(Text)
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
