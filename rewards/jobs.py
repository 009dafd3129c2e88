"""Celery on Redis for background work; without REDIS_URL every job runs inline, in the caller's process."""
from celery import Task

from rewards.extensions import celery


def init_celery(app):
    class AppContextTask(Task):
        def __call__(self, *args, **kwargs):
            with app.app_context():
                return self.run(*args, **kwargs)

    redis_url = app.config.get("REDIS_URL")
    celery.conf.update(
        broker_url=redis_url or "memory://",
        result_backend=redis_url or None,
        task_always_eager=not redis_url,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        timezone="UTC",
    )
    celery.Task = AppContextTask
    app.extensions["celery"] = celery
    return celery
