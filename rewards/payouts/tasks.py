"""The background task that executes a payout batch (inline without REDIS_URL, on a Celery worker with it), and
beat's sweep that starts it again for a batch whose task was lost."""
from flask import current_app

from rewards.extensions import celery
from rewards.jobs import requeue_lost
from rewards.payouts.executor import execute_batch, stalled_batches


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


@celery.task(name="rewards.payouts.resume_stalled")
def resume_stalled_batches() -> int:
    """Execute again the batches no executor has touched for a visibility timeout (Redis hands a task that was
    taken and not acknowledged back after that long; this catches the one it lost)."""
    return requeue_lost(stalled_batches, execute_batch_task)


celery.conf.beat_schedule = {
    **(celery.conf.beat_schedule or {}),
    "resume-stalled-payout-batches": {"task": "rewards.payouts.resume_stalled", "schedule": 300.0},
}
