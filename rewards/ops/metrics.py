"""Prometheus metrics at GET /metrics: loopback clients, or anyone with `Authorization: Bearer <METRICS_TOKEN>`.

Counters and histograms live in each process (summed over gunicorn's workers by prometheus_client's
multiprocess mode when PROMETHEUS_MULTIPROC_DIR is set, as gunicorn.conf.py does). Gauges of shared state
(webhook backlog and lag, payout items by state, Celery queue lengths) are read from the database and Redis
at each scrape, so every process reports the same figures.

Other packages count their own work here: `from rewards.ops.metrics import MAIL_SENT; MAIL_SENT.inc()`.
"""
import hmac
import os
import time
from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from rewards.extensions import db

bp = Blueprint("metrics", __name__)

REQUEST_LATENCY = Histogram(
    "refero_http_request_duration_seconds", "Time to answer a request, by endpoint, method and status.",
    ["endpoint", "method", "status"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
MAIL_SENT = Counter("refero_mail_sent_total", "Messages handed to the SMTP server (or written to the outbox).")
MAIL_FAILED = Counter("refero_mail_failed_total", "Messages that could not be sent (after the task's last retry).")
WEBHOOK_EVENTS = Counter("refero_webhook_events_total", "Stripe events by what became of them: stored (accepted), "
                         "replay, ignored, rejected (bad signature), processed.", ["outcome"])
TASKS = Counter("refero_tasks_total", "Celery tasks finished, by task name and state (success, retry, failure).",
                ["task", "state"])

LOOPBACK = ("127.0.0.1", "::1")


def allowed() -> bool:
    """A scraper on this machine, or one that shows METRICS_TOKEN."""
    token = current_app.config.get("METRICS_TOKEN")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.strip().encode(), token.encode()):
        return True
    # Through a proxy on this machine every client looks local: a forwarded request must show the token
    # unless TRUSTED_PROXY_COUNT lets ProxyFix put the real client address in remote_addr.
    forwarded = "X-Forwarded-For" in request.headers and not current_app.config.get("TRUSTED_PROXY_COUNT")
    return request.remote_addr in LOOPBACK and not forwarded


@bp.route("/metrics")
def metrics():
    if not allowed():
        return Response("Forbidden: /metrics answers this machine, or a scraper with METRICS_TOKEN.\n", 403,
                        {"WWW-Authenticate": "Bearer"}, mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
    else:
        processes = REGISTRY
    shared = CollectorRegistry()
    shared.register(SharedStateCollector(current_app._get_current_object()))
    body = generate_latest(processes) + generate_latest(shared)
    db.session.rollback()
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


class SharedStateCollector:
    """Gauges read at scrape time from the database and Redis."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        yield from webhook_gauges()
        yield from payout_item_gauges()
        yield from mail_gauges()
        yield from queue_gauges(self.app.config.get("REDIS_URL"))


def webhook_gauges():
    from rewards.sales.models import StripeEvent

    waiting, oldest = db.session.execute(select(func.count(), func.min(StripeEvent.received_at))
                                         .where(StripeEvent.processed_at.is_(None))).one()
    backlog = GaugeMetricFamily("refero_webhook_backlog", "Stripe events stored and not yet processed.")
    backlog.add_metric([], waiting)
    lag = GaugeMetricFamily("refero_webhook_lag_seconds", "Age of the oldest stored, unprocessed Stripe event.")
    lag.add_metric([], (_utc_now() - _as_utc(oldest)).total_seconds() if oldest else 0)
    return [backlog, lag]


def payout_item_gauges():
    """Payout items by status, once the payouts package's table is part of the schema."""
    table = db.metadata.tables.get("payout_items")
    if table is None or "status" not in table.c:
        return []
    family = GaugeMetricFamily("refero_payout_items", "Payout items by status.", labels=["status"])
    for status, count in db.session.execute(select(table.c.status, func.count()).group_by(table.c.status)):
        family.add_metric([status], count)
    return [family]


def mail_gauges():
    """Outgoing messages by status, and those waiting after a failed attempt, once the mail outbox exists."""
    table = db.metadata.tables.get("outgoing_messages")
    if table is None or "status" not in table.c:
        return []
    family = GaugeMetricFamily("refero_mail_messages", "Outgoing messages by status (retrying: pending after a "
                               "failed attempt).", labels=["status"])
    for status, count in db.session.execute(select(table.c.status, func.count()).group_by(table.c.status)):
        family.add_metric([status], count)
    if "attempts" in table.c:
        retrying = db.session.scalar(select(func.count()).where(table.c.status == "pending", table.c.attempts > 0))
        family.add_metric(["retrying"], retrying)
    return [family]


def queue_gauges(redis_url):
    """Messages waiting in each Celery queue (Redis lists; kombu keeps priorities in sibling lists)."""
    if not redis_url:
        return []
    import redis

    from rewards.jobs import QUEUES

    family = GaugeMetricFamily("refero_celery_queue_length", "Tasks waiting in each Celery queue.",
                               labels=["queue"])
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1)
    try:
        pipe = client.pipeline()
        for queue in QUEUES:
            for key in [queue] + [f"{queue}\x06\x16{priority}" for priority in range(1, 10)]:
                pipe.llen(key)
        lengths = pipe.execute()
    except redis.RedisError:
        return []
    finally:
        client.close()
    for i, queue in enumerate(QUEUES):
        family.add_metric([queue], sum(lengths[i * 10:(i + 1) * 10]))
    return [family]


def _utc_now():
    return datetime.now(timezone.utc)


def _as_utc(moment):
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _start_timer():
    g.metrics_started = time.perf_counter()


def _observe(response):
    started = g.pop("metrics_started", None)
    if started is not None:
        endpoint = request.url_rule.endpoint if request.url_rule is not None else "unmatched"
        REQUEST_LATENCY.labels(endpoint, request.method, str(response.status_code)).observe(
            time.perf_counter() - started)
    return response


def count_tasks():
    """Every Celery task's end, success or not, counted by name."""
    from celery.signals import task_failure, task_retry, task_success

    def counter(state):
        def count(sender=None, request=None, **_):
            name = getattr(sender, "name", None) or getattr(request, "task", None) or "unknown"
            TASKS.labels(name, state).inc()
        return count

    for signal, state in ((task_success, "success"), (task_retry, "retry"), (task_failure, "failure")):
        signal.connect(counter(state), weak=False)


_connected = []


def register_metrics(app):
    app.before_request(_start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)
    if not _connected:
        count_tasks()
        _connected.append(True)
