"""Tasks on the coordinator's board, and which automatic task kinds are switched on."""
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rewards.clock import utcnow
from rewards.dbtypes import UTCDateTime
from rewards.extensions import db

TASK_STATUSES = ("todo", "doing", "done")
STATUS_LABELS = {"todo": "To do", "doing": "Doing", "done": "Done"}
PRIORITIES = ("low", "normal", "high")


class Task(db.Model):
    """A card on the board: `todo` → `doing` → `done` (any move allowed), ordered by `position` in its column."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_status_position", "status", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="todo")
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    position: Mapped[int] = mapped_column(default=0)
    due_date: Mapped[date | None] = mapped_column(Date)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    referral_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Set on automatic tasks ("<kind>:<entity>:<id>"): the same event never makes a second card.
    auto_key: Mapped[str | None] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    assignee = relationship("User", foreign_keys=[assignee_id])
    created_by = relationship("User", foreign_keys=[created_by_id])
    referral = relationship("Referral")
    customer = relationship("Customer")

    def is_overdue(self, today: date) -> bool:
        return self.status != "done" and self.due_date is not None and self.due_date < today

    def __repr__(self):
        return f"<Task {self.id} {self.status} {self.title!r}>"


class TaskAutomation(db.Model):
    """Whether one automatic task kind is on; a kind without a row uses its registry default."""

    __tablename__ = "task_automations"

    kind: Mapped[str] = mapped_column(String(50), primary_key=True)
    enabled: Mapped[bool]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
