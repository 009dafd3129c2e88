"""Queueing mail with the change that causes it, and delivering it: over SMTP (Flask-Mail) or into the outbox folder."""
import logging
import re
from datetime import timedelta
from email.utils import formataddr
from pathlib import Path

from flask import current_app, render_template
from flask_mail import Message
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from rewards import jobs
from rewards.bulk import chunks, insert_rows
from rewards.clock import utcnow
from rewards.extensions import db, mail
from rewards.mail.models import OutgoingMessage
from rewards.ops.metrics import MAIL_FAILED, MAIL_SENT

log = logging.getLogger(__name__)
# A message whose immediate send did not happen (worker down, process gone) is picked up by the sweep after this.
SWEEP_GRACE = timedelta(minutes=2)
MAX_BACKOFF = timedelta(hours=6)
DELIVERY_GROUP = 100
_LINK = re.compile(r"https?://\S+|(?<=\s)/[\w/.-]+/[\w-]{20,}")


class DeliveryFailed(Exception):
    """The mail server did not take a message; it stays pending and is retried."""


def business() -> dict:
    """The sender's name and support address, for mail and pages."""
    config = current_app.config
    return {"business_name": config.get("BUSINESS_NAME") or "Refero", "support_email": config.get("SUPPORT_EMAIL")}


def _rendered(template: str, context: dict | None) -> dict:
    context = {**business(), **(context or {})}
    return {"text_body": render_template(f"mail/{template}.txt", **context),
            "html_body": render_template(f"mail/{template}.html", **context)}


def queue(kind: str, recipient: str, subject: str, template: str, context: dict | None = None, *,
          headers: dict | None = None, dedupe_key: str | None = None) -> OutgoingMessage | None:
    """Add a message (not committed) rendered from templates/mail/<template>.txt and .html; it is sent once the
    transaction commits. With `dedupe_key`, a second message for the same event is not added (None).
    Many at once, their keys looked up in bulk: queue_many()."""
    if dedupe_key and db.session.scalar(select(OutgoingMessage.id).filter_by(dedupe_key=dedupe_key)):
        return None
    message = OutgoingMessage(kind=kind, recipient=recipient, subject=subject, headers=headers or {},
                              **_rendered(template, context), dedupe_key=dedupe_key,
                              next_attempt_at=utcnow() + SWEEP_GRACE)
    if dedupe_key:
        try:
            with db.session.begin_nested():
                db.session.add(message)
        except IntegrityError:  # the same event queued it meanwhile, in another transaction
            return None
    else:
        db.session.add(message)
        db.session.flush()
    from rewards.mail.tasks import send_messages_task

    jobs.after_commit_batch(send_messages_task, message.id)
    return message


def queue_many(messages: list[dict]) -> list[int]:
    """queue() for many messages at once (not committed), each given as queue()'s keyword arguments, their dedupe
    keys looked up by the caller already (a concurrent duplicate fails the commit): the rows are written in one
    go (rewards.bulk), sent by the same one job after the commit. Returns their ids."""
    if not messages:
        return []
    now = utcnow()
    ids = insert_rows(OutgoingMessage.__table__, [
        {"kind": message["kind"], "recipient": message["recipient"], "subject": message["subject"],
         "headers": message.get("headers") or {}, **_rendered(message["template"], message.get("context")),
         "dedupe_key": message.get("dedupe_key"), "status": "pending", "attempts": 0, "last_error": None,
         "created_at": now, "next_attempt_at": now + SWEEP_GRACE, "sent_at": None} for message in messages],
        ids=True)
    from rewards.mail.tasks import send_messages_task

    for message_id in ids:
        jobs.after_commit_batch(send_messages_task, message_id)
    return ids


def deliver(message_id: int) -> bool:
    """Send one pending message; True if it was sent now, False if it was sent already (or is being sent)."""
    return deliver_many([message_id]) == 1


def deliver_many(message_ids: list[int]) -> int:
    """Send the pending messages among `message_ids` over one connection; returns how many were sent now.

    Runs in a session of its own, so it may be called right after another transaction commits. A message sent
    already (or being sent by another worker) is skipped. On a failure the attempt and error are recorded, the
    next attempt is scheduled, the rest are left pending, and DeliveryFailed is raised. Messages are marked sent
    a group at a time: a crash in the middle of a group may send its messages again (at least once, never lost).
    """
    sent = 0
    with Session(db.engine, expire_on_commit=False) as session, _Transport() as transport:
        for group in chunks(sorted(set(message_ids)), DELIVERY_GROUP):
            query = (select(OutgoingMessage).where(OutgoingMessage.id.in_(group), OutgoingMessage.status == "pending")
                     .order_by(OutgoingMessage.id))
            if db.engine.dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)  # another worker is sending them: leave them to it
            for message in session.scalars(query).all():
                message.attempts += 1
                try:
                    transport.send(message)
                except Exception as exc:
                    MAIL_FAILED.inc()
                    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
                    message.next_attempt_at = utcnow() + min(timedelta(minutes=2 ** message.attempts), MAX_BACKOFF)
                    session.commit()
                    raise DeliveryFailed(f"message {message.id} to {message.recipient}: {message.last_error}") from exc
                message.status, message.sent_at, message.last_error = "sent", utcnow(), None
                MAIL_SENT.inc()
                sent += 1
            session.commit()
    return sent


def send_pending(limit: int = 500) -> tuple[int, int]:
    """Deliver pending messages whose next attempt is due; returns (sent, failed)."""
    ids = db.session.scalars(select(OutgoingMessage.id).where(OutgoingMessage.status == "pending",
                                                              OutgoingMessage.next_attempt_at <= utcnow())
                             .order_by(OutgoingMessage.id).limit(limit)).all()
    db.session.rollback()
    sent = failed = 0
    for message_id in ids:
        try:
            sent += deliver(message_id)
        except DeliveryFailed as exc:
            log.warning("Mail not sent, will retry: %s", exc)
            failed += 1
    return sent, failed


def _sender() -> str:
    config = current_app.config
    if config.get("MAIL_DEFAULT_SENDER"):
        return config["MAIL_DEFAULT_SENDER"]
    return formataddr((business()["business_name"], config.get("SUPPORT_EMAIL") or "no-reply@localhost"))


class _Transport:
    """One SMTP connection for a run of messages (opened at the first), or the outbox folder without MAIL_SERVER."""

    def __enter__(self):
        self.connection = None
        return self

    def send(self, message: OutgoingMessage) -> None:
        email = Message(subject=message.subject, recipients=[message.recipient], body=message.text_body,
                        html=message.html_body, sender=_sender(), extra_headers=dict(message.headers or {}))
        if not current_app.config.get("MAIL_SERVER"):
            _write_to_outbox(message, email)
            return
        if self.connection is None:
            self.connection = mail.connect()
            self.connection.__enter__()
        self.connection.send(email)

    def __exit__(self, *exc_info):
        if self.connection is not None:
            try:
                self.connection.__exit__(None, None, None)
            except Exception:  # the messages were taken; a failing QUIT changes nothing
                pass


def _write_to_outbox(message: OutgoingMessage, email: Message) -> None:
    folder = Path(current_app.config["MAIL_OUTBOX_DIR"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{utcnow():%Y%m%dT%H%M%S}-{message.id}-{message.kind}.eml"
    path.write_bytes(email.as_bytes())
    links = " ".join(_LINK.findall(message.text_body)) or "none"
    current_app.logger.info("Mail to %s (%s) written to %s; links: %s", message.recipient, message.subject, path, links)
