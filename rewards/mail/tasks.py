"""Celery tasks of the mail package: send one message (retried with backoff), and the sweep of pending mail."""
from rewards.extensions import celery
from rewards.mail.service import deliver_many, send_pending


@celery.task(name="rewards.mail.send_messages", autoretry_for=(Exception,), retry_backoff=30,
             retry_backoff_max=3600, retry_jitter=False, max_retries=8)
def send_messages_task(message_ids: list[int]) -> int:
    """Send the messages one transaction queued; a failure is retried with growing delays (then by the sweep),
    and a retry skips those already sent."""
    return deliver_many(message_ids)


@celery.task(name="rewards.mail.send_pending")
def send_pending_task() -> tuple[int, int]:
    """Send every pending message that is due: the same work as `flask mail send-pending`."""
    return send_pending()


celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "send-pending-mail": {"task": "rewards.mail.send_pending", "schedule": 120.0},
}
