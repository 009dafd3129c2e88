"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""
import sys

from config import MissingSettings
from rewards import create_app

try:
    app = create_app()
except MissingSettings as exc:
    # Said in words, without a traceback: gunicorn, Celery and `flask doctor` stop here with this line.
    sys.exit(f"Refero cannot start: {exc}")
