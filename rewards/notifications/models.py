"""A customer's choice of notification mail: one row per kind switched (no row: the kind's default, on)."""
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db


class NotificationPreference(db.Model):
    __tablename__ = "notification_preferences"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    enabled: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
