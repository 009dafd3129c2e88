"""Celery on Redis for background work; without REDIS_URL every job runs inline, in the caller's process.

Queues: `webhooks` (Stripe events), `mail`, `payouts`, and `default` for the rest (the beat's expiry).
A task goes to the queue its name names (`rewards.webhooks.*`, `*.send_mail`, `rewards.payouts.*`), or the
one its `queue=` option says; `celery -A rewards.worker worker` consumes them all, `-Q webhooks` one of them.
Every task is acknowledged after it ran (a worker that dies midway leaves its task to another), retried
with exponential backoff on a dropped database or broker connection, and so must be idempotent.
"""
from celery import Task
from flask import current_app, has_app_context
from kombu import Queue

from rewards.extensions import celery

QUEUES = ("default", "webhooks", "mail", "payouts")
_ROUTED = {"webhook": "webhooks", "mail": "mail", "payout": "payouts"}


def queue_for(task_name: str) -> str:
    """The queue a task's name points to: a dotted part naming webhooks, mail or payouts; else `default`."""
    for part in task_name.split("."):
        for word, queue in _ROUTED.items():
            if word in part:
                return queue
    return "default"


def route_task(name, args, kwargs, options, task=None, **_):
    return {"queue": queue_for(name)}


def _transient_errors() -> tuple:
    """Errors that another try may not meet: the database or the broker went away for a moment."""
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from sqlalchemy.exc import DBAPIError, OperationalError

    return OperationalError, DBAPIError, BrokerError, RedisConnectionError, ConnectionError


def init_celery(app):
    class AppContextTask(Task):
        autoretry_for = _transient_errors()
        retry_backoff = 2  # seconds, doubled at each try
        retry_backoff_max = 300
        retry_jitter = True
        max_retries = 8

        def __call__(self, *args, **kwargs):
            # Run inline, a task takes the caller's app (tests build many); in a worker, the one app.
            # Either way in a fresh app context: its own database session, as in a worker.
            owner = current_app._get_current_object() if has_app_context() else app
            with owner.app_context():
                return self.run(*args, **kwargs)

    redis_url = app.config.get("REDIS_URL")
    if celery.conf.broker_url != (redis_url or "memory://"):
        # Pooled connections to the old broker go (a test process builds apps of both kinds).
        celery._pool = None
        celery.amqp._producer_pool = None
    celery.conf.update(
        broker_url=redis_url or "memory://",
        result_backend=None,  # no task's return value is read back; nothing piles up in Redis
        task_ignore_result=True,
        task_always_eager=not redis_url,
        task_eager_propagates=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # with late acks: a task waits in Redis, not in a busy worker
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="default",
        task_routes=(route_task,),
        # A task taken by a worker that died is handed out again after this long (seconds).
        broker_transport_options={"visibility_timeout": app.config.get("CELERY_VISIBILITY_TIMEOUT", 900),
                                  "unacked_restore_throttle": 1},  # look for such tasks every 10 s
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    celery.Task = AppContextTask
    app.extensions["celery"] = celery
    return celery
