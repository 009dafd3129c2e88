"""The background task that executes a payout batch (inline without REDIS_URL, on a Celery worker with it)."""
from flask import current_app

from rewards.extensions import celery
from rewards.payouts.executor import execute_batch


@celery.task(name="rewards.payouts.execute_batch")
def execute_batch_task(batch_id: int) -> dict:
    """The same work as `flask payouts execute BATCH_ID`."""
    return execute_batch(batch_id)


def queue_execution(batch_id: int) -> None:
    """Queue the batch's execution; the caller has committed, so the worker sees the approved batch.

    Without REDIS_URL (the embedded default) it runs here and now, in this app's context.
    """
    if current_app.config.get("REDIS_URL"):
        execute_batch_task.delay(batch_id)
    else:
        execute_batch(batch_id)
