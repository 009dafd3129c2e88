"""Celery tasks of the notifications package."""
from rewards.extensions import celery
from rewards.notifications.service import notify_rewards_granted


@celery.task(name="rewards.notifications.rewards_granted", autoretry_for=(Exception,), retry_backoff=30,
             max_retries=5)
def rewards_granted_task(reward_ids: list[int]) -> None:
    """Tell referrers about their new rewards; safe to run again (one message per reward)."""
    notify_rewards_granted(reward_ids)
