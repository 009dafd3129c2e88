"""A referrer's tax details; the tax id only as a Fernet token, never in clear."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db


class TaxDetails(db.Model):
    __tablename__ = "tax_details"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), unique=True)
    legal_name: Mapped[str | None] = mapped_column(String(200))
    country: Mapped[str | None] = mapped_column(String(2))  # ISO 3166-1 alpha-2, upper case
    # Fernet token under DATA_ENCRYPTION_KEYS (rewards.encryption); read only through rewards.tax.service.
    tax_id_encrypted: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    def __repr__(self):  # never the tax id, not even its token
        return f"<TaxDetails customer {self.customer_id}>"
