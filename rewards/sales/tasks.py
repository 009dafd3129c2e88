"""Celery tasks of the sales package, and their place in the beat schedule."""
from celery.schedules import crontab

from rewards.extensions import celery, db
from rewards.referrals.review import expire_referrals


@celery.task(name="rewards.sales.expire_referrals")
def expire_referrals_task() -> int:
    """Expire pending referrals past the attribution window; the same work as `flask referrals expire`."""
    count = expire_referrals()
    db.session.commit()
    return count


# Hourly is plenty: windows are counted in days.
celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "expire-referrals": {"task": "rewards.sales.expire_referrals", "schedule": crontab(minute=7)},
}
