"""/healthz, /readyz and `flask doctor`: ready only when the database, Redis and migrations are; back when they are."""
import os
import socket
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from rewards import create_app
from rewards.extensions import db
from tests.conftest import ROOT, _config
from tests.tcp_proxy import TcpProxy

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _closed_port() -> int:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


@pytest.fixture
def redis_server():
    """Redis for the tests that need it (CI runs one: .ci/run checks it answers)."""
    parts = urlsplit(REDIS_URL)
    try:
        socket.create_connection((parts.hostname, parts.port or 6379), timeout=1).close()
    except OSError:
        pytest.skip(f"needs Redis at {REDIS_URL} (TEST_REDIS_URL)")
    return parts


def test_ready_when_database_and_migrations_are(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json == {"status": "ready", "checks": {"database": "ok", "migrations": "ok"}}


def test_not_ready_when_the_migrations_are_behind_the_code(client):
    (version,) = db.session.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    db.session.execute(sa.text("UPDATE alembic_version SET version_num = '0001_foundation'"))
    db.session.commit()
    try:
        response = client.get("/readyz")
    finally:
        db.session.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": version})
        db.session.commit()
    assert response.status_code == 503
    assert response.json["status"] == "not ready"
    assert "flask --app wsgi db upgrade" in response.json["checks"]["migrations"]
    assert client.get("/readyz").status_code == 200


def test_readyz_fails_while_postgresql_is_away_and_recovers(postgres, migrated):
    parts = urlsplit(migrated)
    proxy = TcpProxy(parts.hostname, parts.port or 5432).start()
    through_proxy = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}"))
    app = create_app(_config(through_proxy))
    client = app.test_client()
    try:
        with app.app_context():
            assert client.get("/readyz").status_code == 200
            proxy.stop()
            away = client.get("/readyz")
            assert away.status_code == 503
            assert away.json == {"status": "not ready", "checks": {
                "database": "the database does not answer", "migrations": "the database does not answer"}}
            assert client.get("/healthz").status_code == 503
            proxy.start()
            back = client.get("/readyz")
            assert back.status_code == 200 and back.json["status"] == "ready"
            db.engine.dispose()
    finally:
        proxy.stop()


def test_readyz_fails_while_redis_is_away_and_recovers(migrated, redis_server):
    proxy = TcpProxy(redis_server.hostname, redis_server.port or 6379).start()
    app = create_app(_config(migrated, REDIS_URL=f"redis://127.0.0.1:{proxy.port}{redis_server.path}"))
    client = app.test_client()
    try:
        with app.app_context():
            ready = client.get("/readyz")
            assert ready.status_code == 200 and ready.json["checks"]["redis"] == "ok"
            proxy.stop()
            away = client.get("/readyz")
            assert away.status_code == 503
            assert away.json["checks"]["redis"] == f"Redis at 127.0.0.1:{proxy.port} does not answer"
            assert away.json["checks"]["database"] == "ok"
            proxy.start()
            assert client.get("/readyz").status_code == 200
            db.engine.dispose()
    finally:
        proxy.stop()


@pytest.fixture
def app_config():
    return {"SECRET_KEY": "x" * 40}


def test_doctor_says_what_is_wrong_in_words_and_exits_1(app, runner):
    app.config.update(REDIS_URL=f"redis://127.0.0.1:{_closed_port()}/0", MAIL_SERVER="127.0.0.1",
                      MAIL_PORT=_closed_port(), STRIPE_SECRET_KEY="pk_test_not_a_secret_key",
                      STRIPE_WEBHOOK_SECRET="not-a-whsec")
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert "ok    database: " in "\n".join(lines) and "ok    migrations: at head" in result.output
    for words in ("FAIL  redis: Redis at 127.0.0.1:", "FAIL  smtp: SMTP server 127.0.0.1:",
                  "FAIL  stripe key: STRIPE_SECRET_KEY is not a Stripe secret key",
                  "FAIL  stripe webhook secret: STRIPE_WEBHOOK_SECRET does not look like a Stripe signing secret"):
        assert any(line.startswith(words) for line in lines), words
    assert "4 problem(s): redis, smtp, stripe key, stripe webhook secret" in result.output


def test_doctor_exits_0_when_all_is_in_order(app, runner):
    app.config.update(STRIPE_SECRET_KEY="sk_test_abc", STRIPE_WEBHOOK_SECRET="whsec_abc")
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 0, result.output
    assert "ok    stripe key: STRIPE_SECRET_KEY is a test-mode key" in result.output
    assert result.output.rstrip().endswith("Everything checked is in order.")


def test_doctor_names_a_short_secret_key_and_a_test_key_in_a_deployment(app, runner, monkeypatch):
    monkeypatch.setenv("REFERO_ENV", "production")
    app.config.update(SECRET_KEY="short", STRIPE_SECRET_KEY="sk_test_abc", STRIPE_WEBHOOK_SECRET="whsec_abc",
                      PUBLIC_BASE_URL="http://refer.example.com")
    result = runner.invoke(args=["doctor"])
    assert result.exit_code == 1
    assert "FAIL  secret key: SECRET_KEY is shorter than 32 characters" in result.output
    assert "FAIL  stripe key: STRIPE_SECRET_KEY is a test-mode key in a production deployment" in result.output
    assert "FAIL  public base url: PUBLIC_BASE_URL 'http://refer.example.com' should be an https:// address" \
        in result.output


def test_a_process_missing_settings_stops_with_words_not_a_traceback(tmp_path):
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items()
           if key not in ("SECRET_KEY", "DATABASE_URL", "FLASK_DEBUG", "STRIPE_WEBHOOK_SECRET")}
    env.update(STRIPE_SECRET_KEY="sk_test_x", REFERO_ENV="production")
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "flask"), "--app", "wsgi", "doctor"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert ("Refero cannot start: SECRET_KEY must be set; DATABASE_URL must be set; STRIPE_WEBHOOK_SECRET must be "
            "set; PUBLIC_BASE_URL must be set when FLASK_DEBUG is off") in result.stderr


def test_a_pooled_connection_the_server_closed_is_replaced_before_use(postgres, client):
    """PostgreSQL restarted, failed over or ended an idle connection: the next request is served on a fresh one,
    not answered with an error. No round trip asks first (dbpool): the closed connection has the goodbye to read."""
    import time

    def pooled_pid():
        with db.engine.connect() as conn:
            return conn.connection.dbapi_connection.info.backend_pid

    db.session.remove()
    db.engine.dispose()
    with db.engine.connect() as killer:  # held, so the request below gets a connection of its own
        assert client.get("/readyz").status_code == 200
        victim = pooled_pid()  # the pool's one idle connection: the request's
        killer.exec_driver_sql(f"SELECT pg_terminate_backend({victim})")
        for _ in range(100):
            if not killer.exec_driver_sql(f"SELECT 1 FROM pg_stat_activity WHERE pid = {victim}").first():
                break
            time.sleep(0.05)
        answer = client.get("/readyz")
        assert answer.status_code == 200, answer.json
        assert pooled_pid() != victim
    db.engine.dispose()
