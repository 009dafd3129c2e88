"""WSGI entry point: `gunicorn wsgi:app`, `flask --app wsgi …`."""
from rewards import create_app

app = create_app()
