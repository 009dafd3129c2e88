"""`flask --app wsgi doctor`: configuration and connectivity, each in words; exit status 1 if anything is wrong."""
import base64
import binascii
import os
import sys
from urllib.parse import urlsplit

import click
from flask import current_app

from config import missing_production_settings
from rewards.extensions import db
from rewards.ops import checks


def configuration() -> list[tuple[str, bool, str]]:
    config = current_app.config
    results = []
    if not (config.get("DEBUG") or config.get("TESTING")):
        missing = missing_production_settings()
        results.append(("settings", not missing, "required settings are set" if not missing else
                        "missing: " + ", ".join(missing)))
    if len(config.get("SECRET_KEY") or "") < 32:
        results.append(("secret key", False, "SECRET_KEY is shorter than 32 characters: use a long random value "
                                             "(python -c 'import secrets; print(secrets.token_hex(32))')"))
    base = config.get("PUBLIC_BASE_URL") or ""
    if not base:
        results.append(("public base url", not os.environ.get("REFERO_ENV") == "production",
                        "PUBLIC_BASE_URL is not set: links in mail use the request's host"))
    else:
        parts = urlsplit(base)
        local = parts.hostname in ("127.0.0.1", "localhost")
        ok = parts.scheme == "https" or (parts.scheme == "http" and local)
        results.append(("public base url", ok, f"links point at {base}" if ok else
                        f"PUBLIC_BASE_URL {base!r} should be an https:// address"))
    keys = [key.strip() for key in (os.environ.get("DATA_ENCRYPTION_KEYS") or "").split(",") if key.strip()]
    bad = [str(i + 1) for i, key in enumerate(keys) if not _fernet_key(key)]
    if keys:
        results.append(("encryption keys", not bad, f"{len(keys)} DATA_ENCRYPTION_KEYS, the first encrypts" if not bad
                        else f"DATA_ENCRYPTION_KEYS number {', '.join(bad)} is not a Fernet key"))
    else:
        results.append(("encryption keys", True, "no DATA_ENCRYPTION_KEYS: tax details cannot be stored"))
    if config.get("REDIS_URL"):
        results.append(("background work", True, "REDIS_URL set: Celery workers run the background work"))
    else:
        results.append(("background work", True, "no REDIS_URL: background work runs inline, in the request"))
    return results


def _fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (binascii.Error, ValueError):
        return False


def celery_workers() -> tuple[bool, str]:
    from rewards.extensions import celery

    try:
        answers = celery.control.ping(timeout=checks.TIMEOUT)
    except Exception as exc:  # the broker itself is reported by the redis check
        return False, f"could not ask the workers ({checks._first_line(exc)})"
    if not answers:
        return False, "no Celery worker answers: start `celery -A rewards.worker worker` (webhooks, mail and " \
                      "payouts wait in Redis until one does)"
    return True, f"{len(answers)} Celery worker(s) answer"


def everything() -> list[tuple[str, bool, str]]:
    results = configuration()
    ready = checks.readiness()
    results += [(name, ok, words) for name, (ok, words) in ready.items()]
    db.session.rollback()
    if current_app.config.get("REDIS_URL") and ready.get("redis", (False,))[0]:
        results.append(("celery", *celery_workers()))
    results.append(("smtp", *checks.smtp()))
    results += checks.stripe_keys()
    return results


@click.command("doctor")
def doctor():
    """Check configuration and connectivity; say in words what is wrong; exit 1 if anything is."""
    results = everything()
    for name, ok, words in results:
        click.echo(f"{'ok  ' if ok else 'FAIL'}  {name}: {words}")
    problems = [name for name, ok, _ in results if not ok]
    if problems:
        click.echo(f"{len(problems)} problem(s): {', '.join(problems)}", err=True)
        sys.exit(1)
    click.echo("Everything checked is in order.")
