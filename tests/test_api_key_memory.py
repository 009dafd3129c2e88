"""API keys remembered by each process (with Redis): no query per call, and a change in any process seen by all
at the next call. Two apps stand for two gunicorn processes: each has its own memory, both share Redis."""
import sqlalchemy as sa
import pytest
import redis

from rewards import create_app
from rewards.accounts import key_memory, service as accounts
from rewards.accounts.models import ApiKey, User
from rewards.extensions import db
from tests import factories
from tests.conftest import IsolatedClient, _config
from tests.test_ops_health import REDIS_URL, _closed_port, redis_server  # noqa: F401  (fixture)


def _process(migrated, redis_url=REDIS_URL):
    app = create_app(_config(migrated, REDIS_URL=redis_url))
    app.test_client_class = IsolatedClient
    return app


@pytest.fixture
def processes(app, migrated, redis_server):  # noqa: F811
    """(web, other): two processes of one deployment; `app` (no Redis) empties the tables afterwards."""
    redis.Redis.from_url(REDIS_URL).delete(key_memory.VERSION_KEY)
    apps = _process(migrated), _process(migrated)
    yield apps
    for each in apps:
        _close(each)
    create_app(_config(migrated))  # Celery back to inline work for the tests that follow


def _close(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
        key_memory.current().redis.close()


class Statements:
    """The statements `app` sends from now on (whitespace collapsed), until closed."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.sent = []
        sa.event.listen(self.engine, "before_cursor_execute", self.seen)

    def seen(self, conn, cursor, statement, *args):
        self.sent.append(" ".join(statement.split()))

    @property
    def key_reads(self) -> int:
        return sum("FROM users JOIN api_keys" in statement for statement in self.sent)

    def close(self):
        sa.event.remove(self.engine, "before_cursor_execute", self.seen)


def _key(app, role="coordinator"):
    with app.app_context():
        user = factories.user(role=role)
        _, secret = factories.api_key(user)
        return user.id, {"Authorization": f"Bearer {secret}"}


def _clock_stands_still(monkeypatch):
    """The clock stops: however slow the machine, the calls that follow fall within one CHECK_SECONDS."""
    now = key_memory.time.monotonic()
    monkeypatch.setattr(key_memory.time, "monotonic", lambda: now)


def _check_interval_passes(monkeypatch):
    """Time moves past CHECK_SECONDS: each process reads the accounts' counter again at its next call."""
    later = key_memory.time.monotonic() + key_memory.CHECK_SECONDS + 0.01
    monkeypatch.setattr(key_memory.time, "monotonic", lambda: later)


def test_a_remembered_key_costs_no_query_and_a_revocation_elsewhere_is_seen_within_the_check_interval(
        processes, monkeypatch):
    web, other = processes
    user_id, headers = _key(other)
    client, queries = web.test_client(), Statements(web)
    try:
        assert [client.get("/api/v1/referrals", headers=headers).status_code for _ in range(3)] == [200] * 3
        assert queries.key_reads == 1  # the first call asked the database; the next two remembered its answer
        with web.app_context():
            remembered = list(key_memory.current().entries.values())
        assert [known.user_id for known in remembered] == [user_id]
        assert not {"password_hash", "session_token"} & set(vars(remembered[0].user))  # no secret kept
        with other.app_context():
            accounts.revoke_api_key(db.session.scalars(sa.select(ApiKey).filter_by(user_id=user_id)).one())
            db.session.commit()
        _check_interval_passes(monkeypatch)
        assert client.get("/api/v1/referrals", headers=headers).status_code == 401
        assert queries.key_reads == 2
    finally:
        queries.close()


def test_the_counter_is_read_once_per_check_interval(processes, monkeypatch):
    web, _ = processes
    _, headers = _key(web)
    client = web.test_client()
    with web.app_context():
        memory, reads = key_memory.current(), []
        monkeypatch.setattr(memory.redis, "get", lambda *args, real=memory.redis.get: reads.append(args) or real(*args))
    _clock_stands_still(monkeypatch)
    assert [client.get("/api/v1/referrals", headers=headers).status_code for _ in range(3)] == [200] * 3
    assert len(reads) == 1
    _check_interval_passes(monkeypatch)
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    assert len(reads) == 2


def test_a_user_disabled_in_another_process_is_refused_within_the_check_interval(processes, monkeypatch):
    web, other = processes
    user_id, headers = _key(other)
    client = web.test_client()
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    with other.app_context():
        accounts.set_disabled(db.session.get(User, user_id), True)
        db.session.commit()
    _check_interval_passes(monkeypatch)
    assert client.get("/api/v1/referrals", headers=headers).status_code == 401


def test_a_revocation_in_the_same_process_is_seen_at_once(processes):
    web, _ = processes
    user_id, headers = _key(web)
    client = web.test_client()
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    with web.app_context():
        accounts.revoke_api_key(db.session.scalars(sa.select(ApiKey).filter_by(user_id=user_id)).one())
        db.session.commit()
    assert client.get("/api/v1/referrals", headers=headers).status_code == 401


def test_a_remembered_customer_still_sees_only_their_own_referrals(processes):
    web, other = processes
    with other.app_context():
        mine = factories.user(role="customer")
        own = factories.referral(referrer=mine.customer).id
        factories.referral()  # someone else's
        _, secret = factories.api_key(mine)
    client = web.test_client()
    for _ in range(2):  # asked, then remembered: the user's customer record still loads in the call's session
        answer = client.get("/api/v1/referrals", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200
        assert [item["id"] for item in answer.json] == [own]


def test_a_change_made_outside_the_app_is_seen_once_the_memory_lapses(processes, monkeypatch):
    """psql bumps no counter: a process trusts what it remembered for MEMORY_SECONDS at most."""
    web, _ = processes
    user_id, headers = _key(web)
    client = web.test_client()
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    with web.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE api_keys SET revoked_at = CURRENT_TIMESTAMP WHERE user_id = :u"),
                         {"u": user_id})
    assert client.get("/api/v1/referrals", headers=headers).status_code == 200
    later = key_memory.time.monotonic() + key_memory.MEMORY_SECONDS + 1
    monkeypatch.setattr(key_memory.time, "monotonic", lambda: later)
    assert client.get("/api/v1/referrals", headers=headers).status_code == 401


def test_while_redis_does_not_answer_every_call_asks_the_database(app, migrated):
    web = _process(migrated, f"redis://127.0.0.1:{_closed_port()}/0")
    try:
        user_id, headers = _key(web)
        client, queries = web.test_client(), Statements(web)
        try:
            with web.app_context():
                memory, tries = key_memory.current(), []
                memory.redis.get = lambda *args, real=memory.redis.get: tries.append(args) or real(*args)
            assert [client.get("/api/v1/referrals", headers=headers).status_code for _ in range(2)] == [200, 200]
            assert queries.key_reads == 2
            assert len(tries) == 1  # after a failure, Redis is left alone for a while: no wait on every call
            with web.app_context():
                accounts.revoke_api_key(db.session.scalars(sa.select(ApiKey).filter_by(user_id=user_id)).one())
                db.session.commit()  # Redis cannot be told: nothing was remembered, so nothing is stale
            assert client.get("/api/v1/referrals", headers=headers).status_code == 401
        finally:
            queries.close()
    finally:
        _close(web)
        create_app(_config(migrated))


def test_with_its_key_remembered_a_sale_that_proves_nothing_is_one_statement(processes, postgres):
    """The benchmark's common case (PostgreSQL): the sale's INSERT, which also audits it, and nothing else."""
    web, other = processes
    _, headers = _key(other)
    client = web.test_client()
    sale = {"email": "nobody@example.com", "amount": 5000, "currency": "usd", "occurred_at": "2026-06-01T10:00:00Z"}
    assert client.post("/api/v1/sales", json={**sale, "external_id": "s-1"}, headers=headers).status_code == 201
    statements = Statements(web)
    try:
        assert client.post("/api/v1/sales", json={**sale, "external_id": "s-2"}, headers=headers).status_code == 201
    finally:
        statements.close()
    assert len(statements.sent) == 1 and statements.sent[0].startswith("WITH new_sale AS (INSERT INTO sales")
