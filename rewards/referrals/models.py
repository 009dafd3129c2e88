"""Referrals: who referred whom, and where each stands."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

STATUSES = ("pending", "review", "qualified", "rejected", "expired")
SOURCES = ("portal", "link", "api", "admin")
# The only moves DOMAIN.md allows.
TRANSITIONS = {
    "pending": {"qualified", "review", "rejected", "expired"},
    "review": {"qualified", "rejected"},
}


class Referral(db.Model):
    __tablename__ = "referrals"
    __table_args__ = (
        UniqueConstraint("referrer_id", "referee_email", name="uq_referrals_referrer_referee"),
        Index("ix_referrals_status_created", "status", "created_at"),
        # The staff pipeline and dashboard: filters by source, period counts read from the index alone (with the
        # id, for the period's id range), sorting by name. (Prefix-search indexes are PostgreSQL expressions:
        # see migration 0004_board.)
        Index("ix_referrals_source_created", "source", "created_at"),
        Index("ix_referrals_created_status_referrer_id", "created_at", "status", "referrer_id", "id"),
        Index("ix_referrals_referee_name", "referee_name"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referrer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    referee_email: Mapped[str] = mapped_column(String(254), index=True)
    referee_name: Mapped[str] = mapped_column(String(200))
    referee_phone: Mapped[str | None] = mapped_column(String(20), index=True)
    note: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="pending")
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    referrer = relationship("Customer")

    def can_move_to(self, status: str) -> bool:
        return status in TRANSITIONS.get(self.status, set())

    def __repr__(self):
        return f"<Referral {self.id} {self.referee_email} {self.status}>"
