"""The mail outbox: each message a row, written in the transaction that asked for it."""
from datetime import datetime

from sqlalchemy import JSON, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

MESSAGE_STATUSES = ("pending", "sent")


class OutgoingMessage(db.Model):
    """One email: `pending` until the mail server took it (or the outbox file was written), then `sent`."""

    __tablename__ = "outgoing_messages"
    __table_args__ = (Index("ix_outgoing_messages_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    text_body: Mapped[str] = mapped_column(Text)
    html_body: Mapped[str] = mapped_column(Text)
    headers: Mapped[dict] = mapped_column(JSON, default=dict)
    # Names the event a message tells of, so a retried or replayed event sends it once.
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def __repr__(self):
        return f"<OutgoingMessage {self.id} {self.kind} to {self.recipient} {self.status}>"
