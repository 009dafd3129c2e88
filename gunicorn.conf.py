"""gunicorn's settings for Refero: `gunicorn wsgi:app` reads this file from the project root.

Command-line flags win over it (`gunicorn -w 2 -b 127.0.0.1:8001 wsgi:app`); WEB_CONCURRENCY and
GUNICORN_BIND set the two most often changed. `kill -HUP <master pid>` reloads gracefully: new workers
start on the new code, old ones finish their requests first. See docs/DEPLOY.md.
"""
import gc
import multiprocessing
import os
import shutil
import tempfile

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Sync workers: requests are short and the database does the waiting. Two per core plus one is gunicorn's
# advice for such work; WEB_CONCURRENCY overrides it.
workers = int(os.environ.get("WEB_CONCURRENCY") or multiprocessing.cpu_count() * 2 + 1)
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))  # a worker silent this long is killed and replaced
graceful_timeout = 30  # on reload or stop, requests in flight get this long to finish
keepalive = 5  # behind a load balancer that reuses connections
# Recycle each worker now and then (jittered, so not all at once): bounds the damage of a slow leak.
max_requests = 10000
max_requests_jitter = 1000
# The app is imported in each worker, not the master: a HUP then loads new code, and no database
# connection is ever shared across a fork.
preload_app = False

# Access and error logs on standard error, one JSON object per line, as the app's own lines are.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "rewards.ops.logs.RedactingJsonFormatter"},
        "access": {"()": "rewards.ops.logs.AccessJsonFormatter"},
    },
    "filters": {"request_id": {"()": "rewards.ops.logs.RequestIdFilter"}},
    "handlers": {
        "error": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request_id"],
                  "stream": "ext://sys.stderr"},
        "access": {"class": "logging.StreamHandler", "formatter": "access", "stream": "ext://sys.stderr"},
    },
    # The app's own lines reach the root logger; create_app() gives it the same JSON handler.
    "root": {"level": loglevel.upper(), "handlers": []},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["access"], "propagate": False},
    },
}

# Prometheus counters of every worker are kept as files in one directory (prometheus_client's
# multiprocess mode); /metrics sums them. Set PROMETHEUS_MULTIPROC_DIR to share it with Celery workers
# on this host; otherwise a directory of this server's own is made.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="refero-metrics-")
    os.environ["REFERO_OWN_METRICS_DIR"] = "1"  # this file runs again on a reload (HUP): remember it
_own_metrics_dir = os.environ.get("REFERO_OWN_METRICS_DIR") == "1"
_metrics_dir = os.environ["PROMETHEUS_MULTIPROC_DIR"]


def post_worker_init(worker):
    """The app is loaded: its objects (modules, classes, mappers, schemas) live as long as the worker. Frozen,
    they are out of the garbage collector's reach, so a full collection walks only what requests left behind:
    10-20 ms on a 2-core machine instead of 110-230 ms, the slowest requests' pause (docs/verification)."""
    gc.freeze()


def child_exit(server, worker):
    """A dead worker's files stay counted in the sums; prometheus_client forgets its live gauges."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    """A directory made for this server goes with it (a shared one is emptied by its owner, see DEPLOY.md)."""
    if _own_metrics_dir:
        shutil.rmtree(_metrics_dir, ignore_errors=True)

# Request lines and headers up to gunicorn's own maxima reach the app, which answers an overlong query string
# with a JSON 414 in the API's error shape (see rewards.bounds); only beyond these does gunicorn answer itself.
limit_request_line = 8190
limit_request_field_size = 16380
