"""Staff notes on referrals."""
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db


class ReferralNote(db.Model):
    """A coordinator's remark on a referral; kept, never edited."""

    __tablename__ = "referral_notes"
    __table_args__ = (Index("ix_referral_notes_referral_created", "referral_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(ForeignKey("referrals.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    author = relationship("User")
