"""Customers enrolled in the referral program (the referrers)."""
import secrets
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db


def new_referral_code() -> str:
    """12 URL-safe characters from 72 random bits: unguessable, short enough to share."""
    return secrets.token_urlsafe(9)


class Customer(db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    referral_code: Mapped[str] = mapped_column(String(32), unique=True, default=new_referral_code)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)

    user = relationship("User", back_populates="customer")

    def __repr__(self):
        return f"<Customer {self.id} {self.email}>"
