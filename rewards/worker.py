"""Celery worker entry point: `celery -A rewards.worker worker --beat` consumes every queue Refero uses."""
import gc

from celery.signals import setup_logging, worker_process_init

from wsgi import app as flask_app


@setup_logging.connect
def keep_the_apps_logging(**_):
    """create_app() already sent log records to JSON lines (LOG_FORMAT): Celery leaves logging as it is."""


@worker_process_init.connect
def freeze_what_loading_made(**_):
    """Each pool process starts with the app loaded (forked from the main process): what is alive then lives as long
    as the process. Frozen, it is out of the garbage collector's full collections, as in the web workers
    (gunicorn.conf.py's post_worker_init): a collection walks what tasks left behind, not the whole app."""
    gc.freeze()


# The Flask app is imported as `flask_app`: `celery -A rewards.worker` takes an attribute named `app` for its own.
celery = flask_app.extensions["celery"]

__all__ = ["celery"]
