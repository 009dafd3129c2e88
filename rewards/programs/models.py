"""Reward programs: versioned rules per currency, with their tiers."""
from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db
# The reward (what a qualified referral earns) is defined with the ledger that carries it, below this package.
from rewards.ledger.models import REWARD_STATUSES, SETTLING_STATUSES, Reward  # noqa: F401

REWARD_TYPES = ("flat", "percent")


class Program(db.Model):
    """One version of the reward rules for a currency, in force from `effective_from` until a newer one."""

    __tablename__ = "programs"
    __table_args__ = (
        Index("ix_programs_currency_effective", "currency", "effective_from"),
        UniqueConstraint("currency", "version", name="uq_programs_currency_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    # 1, 2, 3… per currency: the order versions were created in (a newer one supersedes from its effective_from).
    version: Mapped[int] = mapped_column(default=1)
    reward_type: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int | None]
    percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))
    min_sale_amount: Mapped[int] = mapped_column(default=0)
    max_reward_amount: Mapped[int | None]
    attribution_days: Mapped[int]
    hold_days: Mapped[int]
    # Most a referrer may earn in this currency per calendar year (by sale time); None: no cap.
    yearly_cap_amount: Mapped[int | None]
    # What the new customer (the referee) gets: a coupon code, a credit, both or neither.
    referee_coupon_code: Mapped[str | None] = mapped_column(String(64))
    referee_credit_amount: Mapped[int | None]
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    tiers = relationship("ProgramTier", order_by="ProgramTier.from_referral", cascade="all, delete-orphan",
                         back_populates="program")

    def __repr__(self):
        return f"<Program {self.id} {self.currency} v{self.version}>"


class ProgramTier(db.Model):
    """From the referrer's Nth qualified referral in a calendar year, a different flat amount or percent."""

    __tablename__ = "program_tiers"
    __table_args__ = (UniqueConstraint("program_id", "from_referral", name="uq_program_tiers_program_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    from_referral: Mapped[int]
    amount: Mapped[int | None]
    percent: Mapped[Decimal | None] = mapped_column(Numeric(7, 4))

    program = relationship("Program", back_populates="tiers")

    @property
    def reward_type(self) -> str:
        return "flat" if self.amount is not None else "percent"
