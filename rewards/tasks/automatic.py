"""Tasks created by events: one registry of kinds, each switchable in the settings page.

A later event adds its kind here and nowhere else: define (or reuse) a signal in rewards/events.py,
then register a function with @kind that turns the signal's sender into a Draft.
"""
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from sqlalchemy.exc import IntegrityError

from rewards import events
from rewards.extensions import db
from rewards.tasks import service
from rewards.tasks.models import Task, TaskAutomation


@dataclass(frozen=True)
class Draft:
    """What an event asks of the board; `key` names the event so it makes one card at most."""

    key: str
    title: str
    description: str | None = None
    priority: str = "normal"
    due_in_days: int | None = None
    referral_id: int | None = None
    customer_id: int | None = None


@dataclass(frozen=True)
class Kind:
    name: str
    label: str
    signal: object
    make: Callable[..., Draft | None]
    default_enabled: bool = True


KINDS: dict[str, Kind] = {}


def kind(name: str, label: str, signal, default_enabled: bool = True):
    """Register `make(sender, **kwargs) -> Draft | None` as the automatic task for `signal`."""

    def register(make):
        KINDS[name] = entry = Kind(name, label, signal, make, default_enabled)
        signal.connect(lambda sender, **kwargs: _on_event(entry, sender, kwargs), weak=False)
        return make

    return register


def is_enabled(name: str) -> bool:
    setting = db.session.get(TaskAutomation, name)
    return KINDS[name].default_enabled if setting is None else setting.enabled


def settings() -> list[tuple[Kind, bool]]:
    return [(entry, is_enabled(name)) for name, entry in KINDS.items()]


def set_enabled(name: str, enabled: bool, user=None) -> bool:
    """Switch a kind on or off (not committed); True when that changed anything."""
    from rewards import audit

    if is_enabled(name) == enabled:
        return False
    setting = db.session.get(TaskAutomation, name) or TaskAutomation(kind=name)
    setting.enabled, setting.updated_by_id = enabled, getattr(user, "id", None)
    db.session.add(setting)
    db.session.flush()
    audit.record("task_automation.updated", setting, {"kind": name, "enabled": enabled},
                 entity_type="task_automations")
    return True


def _on_event(entry: Kind, sender, kwargs) -> None:
    if not is_enabled(entry.name):
        return
    draft = entry.make(sender, **kwargs)
    if draft is None or db.session.scalar(db.select(Task.id).filter_by(auto_key=draft.key)):
        return
    fields = {"title": draft.title, "description": draft.description, "priority": draft.priority,
              "referral_id": draft.referral_id, "customer_id": draft.customer_id,
              "due_date": service.today() + timedelta(days=draft.due_in_days) if draft.due_in_days is not None else None}
    try:
        # A concurrent emitter of the same event wins the unique key; the emitter's own change still stands.
        with db.session.begin_nested():
            service.create_task(fields, auto_key=draft.key)
    except IntegrityError:
        pass


@kind("contact_referee", "A new referral: contact the referee", events.referral_created)
def contact_referee(referral, **_):
    return Draft(key=f"contact_referee:referral:{referral.id}", title=f"Contact {referral.referee_name}",
                 description=f"New referral ({referral.source}): get in touch with {referral.referee_email}.",
                 due_in_days=2, referral_id=referral.id, customer_id=referral.referrer_id)


@kind("review_referral", "A referral in review: review it", events.referral_needs_review)
def review_referral(referral, reason=None, **_):
    return Draft(key=review_task_key(referral.id), title=f"Review referral of {referral.referee_name}",
                 description=reason or "A check flagged this referral: approve or reject it.",
                 priority="high", due_in_days=1, referral_id=referral.id, customer_id=referral.referrer_id)


def review_task_key(referral_id: int) -> str:
    return f"review_referral:referral:{referral_id}"


def open_automatic_task(referral_id: int) -> Task | None:
    """The referral's automatic task still to do (its review, else its first contact), if any."""
    return db.session.scalar(db.select(Task).where(
        Task.referral_id == referral_id, Task.auto_key.is_not(None), Task.status != "done")
        .order_by(Task.auto_key.startswith("review_referral").desc(), Task.id).limit(1))


def close_review_task(referral, outcome=None, **_):
    """A decision ends the review: its automatic card moves to Done (a card staff made by hand stays)."""
    task = db.session.scalar(db.select(Task).filter_by(auto_key=review_task_key(referral.id)))
    if task is not None and task.status != "done":
        service.move_task(task, "done")


events.referral_decided.connect(close_review_task, weak=False)
