"""Celery tasks of the mail package: send one message (retried with backoff), and the sweep of pending mail."""
from rewards.extensions import celery
from rewards.mail.service import deliver, send_pending


@celery.task(name="rewards.mail.send_message", autoretry_for=(Exception,), retry_backoff=30,
             retry_backoff_max=3600, retry_jitter=False, max_retries=8)
def send_message_task(message_id: int) -> bool:
    """Send one queued message; a failure is retried with growing delays (and by the sweep after that)."""
    return deliver(message_id)


@celery.task(name="rewards.mail.send_pending")
def send_pending_task() -> tuple[int, int]:
    """Send every pending message that is due: the same work as `flask mail send-pending`."""
    return send_pending()


celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "send-pending-mail": {"task": "rewards.mail.send_pending", "schedule": 120.0},
}
