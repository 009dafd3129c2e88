"""Celery worker entry point: `celery -A rewards.worker worker --beat`."""
from rewards import create_app

app = create_app()
celery = app.extensions["celery"]

__all__ = ["celery"]
