"""Celery tasks of the sales package, and their place in the beat schedule."""
from celery.schedules import crontab

from rewards.errors import DomainError
from rewards.extensions import celery, db
from rewards.jobs import requeue_lost
from rewards.ops.metrics import WEBHOOK_EVENTS
from rewards.referrals.review import expire_referrals
from rewards.sales.stripe_events import process_stored_event, reject_stored_event, waiting_events


@celery.task(name="rewards.sales.expire_referrals")
def expire_referrals_task() -> int:
    """Expire pending referrals past the attribution window; the same work as `flask referrals expire`."""
    count = expire_referrals()
    db.session.commit()
    return count


@celery.task(name="rewards.webhooks.process_stripe_event")
def process_stripe_event(event_id: str) -> str:
    """Process one stored Stripe event; run twice, the second run finds it processed and does nothing.

    An event its handler refuses is marked and audited rather than failed: trying it again would not help.
    """
    try:
        outcome = process_stored_event(event_id)
    except DomainError as refusal:
        db.session.rollback()
        outcome = reject_stored_event(event_id, refusal)
    db.session.commit()
    WEBHOOK_EVENTS.labels(outcome).inc()
    return outcome


@celery.task(name="rewards.webhooks.requeue_waiting")
def requeue_waiting_events() -> int:
    """Queue again the stored events no worker processed in time (the queue was down, or the task failed)."""
    return requeue_lost(waiting_events, process_stripe_event)


# Hourly is plenty for expiry: windows are counted in days.
celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "expire-referrals": {"task": "rewards.sales.expire_referrals", "schedule": crontab(minute=7)},
    "requeue-waiting-stripe-events": {"task": "rewards.webhooks.requeue_waiting", "schedule": crontab(minute="*/5")},
}
