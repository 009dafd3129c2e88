"""The record of each reconciliation with Stripe: when, which period, by whom, and every difference found."""
from datetime import date, datetime

from sqlalchemy import JSON, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db
from rewards.payouts.models import PayoutItem

RECONCILIATION_STATUSES = ("matched", "differences", "error")


class ReconciliationRun(db.Model):
    __tablename__ = "reconciliation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_day: Mapped[date] = mapped_column(Date)
    last_day: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(12))
    matched: Mapped[int] = mapped_column(default=0)
    # [{kind, transfer_id, item_id, batch_id, refero, stripe, message}], kinds in reconciliation.KINDS.
    differences: Mapped[list] = mapped_column(JSON, default=list)
    error_message: Mapped[str | None] = mapped_column(Text)
    via: Mapped[str] = mapped_column(String(8), default="page")
    run_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# payouts.csv and reconciliation read payout items by settlement time.
Index("ix_payout_items_paid_at", PayoutItem.paid_at)
