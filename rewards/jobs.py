"""Celery on Redis for background work; without REDIS_URL every job runs inline, in the caller's process.

Queues: `webhooks` (Stripe events), `mail`, `payouts`, and `default` for the rest (the beat's expiry).
A task goes to the queue its name names (`rewards.webhooks.*`, `*.send_mail`, `rewards.payouts.*`), or the
one its `queue=` option says; `celery -A rewards.worker worker` consumes them all, `-Q webhooks` one of them.
Every task is acknowledged after it ran (a worker that dies midway leaves its task to another), retried
with exponential backoff on a dropped database or broker connection, and so must be idempotent.

`after_commit(task, *args)` starts a job only once the transaction that asked for it commits (and never if it
rolls back). In a request, it starts after the response has been sent: the client waits neither for the broker
nor for an inline job. Outside one, it is queued at once, or run inline at once or at the end of a `held()` block
(a command reports its own work first, as a request answers first). A job that could not be queued, or failed
inline, is logged and left to its own retry path (mail: the pending-mail sweep; webhooks: the stored events').
"""
import logging
from contextlib import contextmanager
from datetime import timedelta
from functools import partial

from celery import Task
from flask import current_app, g, has_app_context, has_request_context
from kombu import Queue
from sqlalchemy import event

from rewards.extensions import celery, db
from rewards.ops.logs import current_request_id, request_id_var

log = logging.getLogger(__name__)
_PENDING = "jobs_after_commit"
_BATCHES = "job_batches_after_commit"
_HELD = "jobs_held"

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
        broker_transport_options={"visibility_timeout": app.config["CELERY_VISIBILITY_TIMEOUT"],
                                  "unacked_restore_throttle": 1},  # look for such tasks every 10 s
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    celery.Task = AppContextTask
    app.extensions["celery"] = celery
    app.after_request(_run_after_response)
    return celery


def after_commit(task, *args) -> None:
    """Start `task(*args)` once the current transaction commits."""
    db.session.info.setdefault(_PENDING, []).append((task, args))


def after_commit_batch(task, item) -> None:
    """Add `item` to the one `task(items)` that starts once the current transaction commits."""
    batches = db.session.info.setdefault(_BATCHES, {})
    if task not in batches:
        batches[task] = []
        after_commit(task, batches[task])
    batches[task].append(item)


@event.listens_for(db.session, "after_commit")
def _start_jobs(session):
    if session.in_nested_transaction():  # a savepoint was released: the transaction goes on
        return
    session.info.pop(_BATCHES, None)
    jobs = session.info.pop(_PENDING, [])
    for task, args in jobs:
        _start(task, args)


@event.listens_for(db.session, "after_soft_rollback")
def _drop_jobs(session, previous_transaction):
    if previous_transaction.parent is None:  # the whole transaction, not a savepoint
        session.info.pop(_PENDING, None)
        session.info.pop(_BATCHES, None)


def start(task, *args) -> None:
    """Start `task(*args)` now (in a request, inline jobs run after the response is sent)."""
    _start(task, args)


def _start(task, args) -> None:
    if has_request_context():
        g.setdefault("jobs_after_response", []).append((task, args))
    elif not celery.conf.task_always_eager:
        _queue(task, args)
    elif g.get(_HELD) is not None:
        g.get(_HELD).append((task, args))
    else:
        # A context of its own: this may run inside another session's commit, whose session must not be reused.
        _run_all(current_app._get_current_object(), [(task, args)])


def _queue(task, args) -> None:
    try:
        task.delay(*args)
    except Exception:  # the broker is down: the job's own sweep picks the work up later
        log.exception("Could not queue %s%r", task.name, args)


def requeue_lost(find, task) -> int:
    """Queue `task` again for each id that `find(older_than=…)` names: work left waiting for as long as Redis waits
    before handing a taken, unacknowledged task to another worker, so its task was lost (the sweeps beat runs)."""
    ids = find(older_than=timedelta(seconds=current_app.config["CELERY_VISIBILITY_TIMEOUT"]))
    db.session.rollback()
    for each in ids:
        task.apply_async((each,))
    return len(ids)


@contextmanager
def held():
    """Inline jobs started in the block (by its commits) run when it ends, not inside the commit that starts them.

    Yields the list of jobs held; queued jobs (with REDIS_URL) go to the workers at once, as always.
    """
    jobs = []
    setattr(g, _HELD, jobs)
    try:
        yield jobs
    finally:
        g.pop(_HELD, None)
        if jobs:
            _run_all(current_app._get_current_object(), list(jobs))


def run_inline(task, args) -> None:
    from rewards.mail.service import DeliveryFailed

    try:
        task(*args)
    except DeliveryFailed as exc:  # expected while the mail server is away: the sweep retries it
        log.warning("Mail not sent, will retry: %s", exc)
    except Exception:
        log.exception("Background job %s%r failed", task.name, args)


def _run_after_response(response):
    jobs = g.pop("jobs_after_response", None)
    if jobs:
        response.call_on_close(partial(_run_all, current_app._get_current_object(), jobs, current_request_id()))
    return response


def _run_all(app, jobs, request_id: str | None = None) -> None:
    """Queue the jobs to the workers, or run them inline without Redis, under the request id that started them."""
    token = request_id_var.set(request_id) if request_id else None
    try:
        with app.app_context():
            for task, args in jobs:
                if celery.conf.task_always_eager:
                    run_inline(task, args)
                else:
                    _queue(task, args)
    finally:
        if token is not None:
            request_id_var.reset(token)
