"""What a running Refero depends on, checked one by one: /readyz and `flask doctor` ask the same questions.

Each check returns (ok, words): words say what was found, or what is wrong in terms an operator acts on.
"""
import os
import smtplib
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import text

from rewards.extensions import db

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                          "migrations")
TIMEOUT = 2  # seconds: a dependency slower than this is as good as down for a readiness probe


def database() -> tuple[bool, str]:
    try:
        version = db.session.execute(text("SELECT version()" if _is_postgres() else "SELECT sqlite_version()"))
        return True, f"{'PostgreSQL' if _is_postgres() else 'SQLite'} answers ({version.scalar().split(' on ')[0]})"
    except Exception as exc:  # any driver error means the same thing here: no database
        db.session.rollback()
        return False, f"the database does not answer ({_first_line(exc)})"


def migrations() -> tuple[bool, str]:
    try:
        stored = set(db.session.execute(text("SELECT version_num FROM alembic_version")).scalars())
    except Exception:
        db.session.rollback()
        return False, "no migrations applied: run `flask --app wsgi db upgrade`"
    heads = code_heads()
    if stored != heads:
        return False, (f"the database is at {', '.join(sorted(stored)) or 'nothing'}, the code at "
                       f"{', '.join(sorted(heads))}: run `flask --app wsgi db upgrade`")
    return True, f"at head ({', '.join(sorted(heads))})"


def code_heads() -> set[str]:
    """The newest revision(s) in migrations/ (read once per process)."""
    heads = current_app.extensions.get("refero_migration_heads")
    if heads is None:
        from alembic.config import Config
        from alembic.script import ScriptDirectory

        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        heads = current_app.extensions["refero_migration_heads"] = set(ScriptDirectory.from_config(config).get_heads())
    return heads


def redis() -> tuple[bool, str]:
    import redis as redis_client

    url = current_app.config.get("REDIS_URL")
    try:
        client = redis_client.Redis.from_url(url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT)
        try:
            client.ping()
        finally:
            client.close()
    except redis_client.RedisError as exc:
        return False, f"Redis at {_where(url)} does not answer ({_first_line(exc)})"
    return True, f"Redis at {_where(url)} answers"


def readiness() -> dict[str, tuple[bool, str]]:
    """What /readyz asks: the database, Redis when configured, and the migrations at head."""
    checks = {"database": database()}
    checks["migrations"] = migrations() if checks["database"][0] else (False, "the database does not answer")
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = redis()
    return checks


def smtp() -> tuple[bool, str]:
    config = current_app.config
    server = config.get("MAIL_SERVER") or os.environ.get("MAIL_SERVER")
    if not server:
        return True, "no MAIL_SERVER: mail is written to instance/outbox/ (fine for development only)"
    port = int(config.get("MAIL_PORT") or os.environ.get("MAIL_PORT") or 25)
    use_ssl = _flag(config.get("MAIL_USE_SSL", os.environ.get("MAIL_USE_SSL")))
    use_tls = _flag(config.get("MAIL_USE_TLS", os.environ.get("MAIL_USE_TLS")))
    username = config.get("MAIL_USERNAME") or os.environ.get("MAIL_USERNAME")
    password = config.get("MAIL_PASSWORD") or os.environ.get("MAIL_PASSWORD")
    try:
        client = (smtplib.SMTP_SSL if use_ssl else smtplib.SMTP)(server, port, timeout=TIMEOUT * 3)
        try:
            client.ehlo()
            if use_tls:
                client.starttls()
                client.ehlo()
            if username:
                client.login(username, password or "")
        finally:
            client.close()
    except smtplib.SMTPAuthenticationError:
        return False, f"SMTP server {server}:{port} refused MAIL_USERNAME/MAIL_PASSWORD"
    except (OSError, smtplib.SMTPException) as exc:
        return False, f"SMTP server {server}:{port} does not answer ({_first_line(exc)})"
    return True, f"SMTP server {server}:{port} answers" + (" and accepts the login" if username else "")


def stripe_keys() -> list[tuple[str, bool, str]]:
    """Stripe's API key mode and the webhook secrets: (name, ok, words) each."""
    config = current_app.config
    key = config.get("STRIPE_SECRET_KEY") or ""
    webhook = config.get("STRIPE_WEBHOOK_SECRET") or ""
    connect = config.get("STRIPE_CONNECT_WEBHOOK_SECRET") or os.environ.get("STRIPE_CONNECT_WEBHOOK_SECRET") or ""
    deployed = os.environ.get("REFERO_ENV", "").lower() == "production"
    results = []
    if not key:
        results.append(("stripe key", True, "no STRIPE_SECRET_KEY: Stripe features report \"not configured\""))
    elif not key.startswith(("sk_live_", "sk_test_", "rk_live_", "rk_test_")):
        results.append(("stripe key", False, "STRIPE_SECRET_KEY is not a Stripe secret key (sk_live_… or sk_test_…)"))
    else:
        live = "_live_" in key
        if deployed and not live:
            results.append(("stripe key", False, "STRIPE_SECRET_KEY is a test-mode key in a production deployment "
                                                 "(REFERO_ENV=production): no real money moves"))
        else:
            results.append(("stripe key", True, f"STRIPE_SECRET_KEY is a {'live' if live else 'test'}-mode key"))
    for name, secret in (("STRIPE_WEBHOOK_SECRET", webhook), ("STRIPE_CONNECT_WEBHOOK_SECRET", connect)):
        if not secret:
            needed = key and name == "STRIPE_WEBHOOK_SECRET"
            results.append((name.lower().replace("_", " "), not needed,
                            f"{name} is not set" + (": Stripe's events are refused (503)" if needed else "")))
        elif not secret.startswith("whsec_"):
            results.append((name.lower().replace("_", " "), False,
                            f"{name} does not look like a Stripe signing secret (whsec_…)"))
        else:
            results.append((name.lower().replace("_", " "), True, f"{name} is set"))
    return results


def _is_postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


def _where(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.hostname}:{parts.port or 6379}"


def _first_line(exc: Exception) -> str:
    from rewards.ops.logs import redact_text

    words = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return redact_text(words)[:200]


def _flag(value) -> bool:
    if isinstance(value, bool):
        return value
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")
