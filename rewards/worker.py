"""Celery worker entry point: `celery -A rewards.worker worker --beat` consumes every queue Refero uses."""
from celery.signals import setup_logging

from wsgi import app as flask_app


@setup_logging.connect
def keep_the_apps_logging(**_):
    """create_app() already sent log records to JSON lines (LOG_FORMAT): Celery leaves logging as it is."""


# The Flask app is imported as `flask_app`: `celery -A rewards.worker` takes an attribute named `app` for its own.
celery = flask_app.extensions["celery"]

__all__ = ["celery"]
