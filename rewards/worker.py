"""Celery worker entry point: `celery -A rewards.worker worker --beat` consumes every queue Refero uses."""
from celery.signals import setup_logging

from rewards import create_app


@setup_logging.connect
def keep_the_apps_logging(**_):
    """create_app() already sent log records to JSON lines (LOG_FORMAT): Celery leaves logging as it is."""


# Not named `app`: `celery -A rewards.worker` takes a module attribute called `app` for the Celery app.
flask_app = create_app()
celery = flask_app.extensions["celery"]

__all__ = ["celery"]
