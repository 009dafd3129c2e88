"""Background work: queues by task name, webhooks stored in the request and processed once by a worker."""
import json
from datetime import timedelta

import pytest
import redis

from rewards import create_app
from rewards.clock import utcnow
from rewards.extensions import db
from rewards.jobs import queue_for
from rewards.sales.models import Sale, StripeEvent
from rewards.sales.stripe_events import process_stored_event
from rewards.sales.tasks import process_stripe_event, requeue_waiting_events
from tests import factories
from tests import stripe_events as se
from tests.conftest import ROOT, _config
from tests.test_ops_health import REDIS_URL, redis_server  # noqa: F401  (fixture)
from tests.test_ops_metrics import samples


@pytest.mark.parametrize("name, queue", [
    ("rewards.webhooks.process_stripe_event", "webhooks"),
    ("rewards.webhooks.requeue_waiting", "webhooks"),
    ("rewards.accounts.send_mail", "mail"),
    ("rewards.mail.deliver", "mail"),
    ("rewards.payouts.execute_item", "payouts"),
    ("rewards.payouts.resume_stalled", "payouts"),
    ("rewards.sales.expire_referrals", "default"),
])
def test_a_task_goes_to_the_queue_its_name_names(name, queue):
    assert queue_for(name) == queue


@pytest.fixture
def app_config():
    return {"STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET}


def test_inline_without_redis_the_answer_says_what_processing_did(client):
    evt = se.event("charge.succeeded", se.charge())
    assert se.deliver(client, evt).json["result"] == "processed"
    stored = db.session.get(StripeEvent, evt["id"])
    assert stored.processed_at is not None and stored.payload["id"] == evt["id"]


def test_a_worker_that_dies_midway_leaves_the_event_to_be_processed_once(postgres, client):
    """The effects and the processed mark commit together: a crash before the commit undoes both.

    (PostgreSQL: pysqlite's savepoints commit what came before them, and SQLite runs this work inline anyway.)
    """
    evt = se.event("charge.succeeded", se.charge(payment_intent="pi_crash"))
    with celery_disabled():
        assert se.deliver(client, evt).json["result"] == "stored"
    assert db.session.get(StripeEvent, evt["id"]).processed_at is None
    assert process_stored_event(evt["id"]) == "processed"
    assert len(db.session.scalars(db.select(Sale)).all()) == 1
    db.session.rollback()  # the worker died before its commit
    assert db.session.scalars(db.select(Sale)).all() == []
    assert process_stripe_event.apply((evt["id"],)).result == "processed"  # handed to another worker
    assert process_stripe_event.apply((evt["id"],)).result == "replay"  # and once more: nothing new
    db.session.expire_all()
    assert [sale.stripe_payment_intent for sale in db.session.scalars(db.select(Sale))] == ["pi_crash"]
    assert se.deliver(client, evt).json["result"] == "replay"


class celery_disabled:
    """The broker refuses every message (as when Redis is down) for the block's duration."""

    def __enter__(self):
        from kombu.exceptions import OperationalError

        def refuse(*args, **kwargs):
            raise OperationalError("broker down")

        self.saved = process_stripe_event.apply_async
        process_stripe_event.apply_async = refuse
        return self

    def __exit__(self, *exc):
        process_stripe_event.apply_async = self.saved


@pytest.fixture
def queueing(migrated, redis_server):  # noqa: F811
    """(an app that queues its jobs in Redis, that Redis), in the app's context; Redis emptied before and after."""
    app = create_app(_config(migrated, REDIS_URL=REDIS_URL, STRIPE_WEBHOOK_SECRET=se.WEBHOOK_SECRET))
    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    try:
        with app.app_context():
            yield app, broker
            db.session.remove()
            db.engine.dispose()
    finally:
        broker.flushdb()
        broker.close()
        create_app(_config(migrated))  # back to inline work for the tests that follow


def test_with_redis_the_request_stores_and_queues_and_a_worker_processes(queueing):
    app, broker = queueing
    client = app.test_client()
    evt = se.event("charge.succeeded", se.charge(payment_intent="pi_queued"))
    payload, headers = se.signed(evt)
    answer = client.post("/webhooks/stripe", data=payload, headers={**headers, "X-Request-ID": "req-abc-123"})
    assert answer.json == {"received": True, "result": "queued"}
    stored = db.session.get(StripeEvent, evt["id"])
    assert stored.processed_at is None and stored.request_id == "req-abc-123"
    assert db.session.scalars(db.select(Sale)).all() == []
    message = json.loads(broker.lindex("webhooks", 0))
    assert message["headers"]["task"] == "rewards.webhooks.process_stripe_event"
    assert message["headers"]["request_id"] == "req-abc-123"  # the worker logs under the request's id
    found = samples(client.get("/metrics"))
    assert found[("refero_webhook_backlog", ())] == 1
    assert found[("refero_celery_queue_length", (("queue", "webhooks"),))] == 1
    assert client.post("/webhooks/stripe", data=payload, headers=headers).json["result"] == "queued"
    db.session.remove()
    assert process_stripe_event.apply((evt["id"],)).result == "processed"
    assert process_stripe_event.apply((evt["id"],)).result == "replay"
    assert [s.stripe_payment_intent for s in db.session.scalars(db.select(Sale))] == ["pi_queued"]
    assert client.post("/webhooks/stripe", data=payload, headers=headers).json["result"] == "replay"


def test_with_redis_a_request_queues_its_jobs_once_its_answer_has_gone(queueing):
    """The client doesn't wait for the broker: the jobs a request started (here the mail about the reward a
    sale earned) are queued as its response closes, under the request's id."""
    app, broker = queueing
    factories.program(min_sale_amount=1000)
    referral = factories.referral(email="buyer@example.com", created_at=utcnow() - timedelta(days=1))
    _, secret = factories.api_key(factories.user(role="coordinator"))
    db.session.commit()
    sale = {"external_id": "order-1", "email": "buyer@example.com", "amount": 5000, "currency": "usd",
            "occurred_at": utcnow().isoformat()}
    answer = app.test_client().post("/api/v1/sales", json=sale, buffered=False, headers={
        "Authorization": f"Bearer {secret}", "X-Request-ID": "req-after-1"})
    assert answer.status_code == 201 and answer.json["referral_id"] == referral.id
    assert answer.json["reward"] is not None
    assert broker.llen("default") == 0  # answered, with the reward; nothing queued while the answer goes out
    answer.close()
    [queued] = [json.loads(message)["headers"] for message in broker.lrange("default", 0, -1)]
    assert queued["task"] == "rewards.notifications.rewards_granted"  # the referrer's mail, to be written
    assert queued["request_id"] == "req-after-1"


def test_stored_events_left_waiting_are_queued_again(app, client):
    app.config["CELERY_VISIBILITY_TIMEOUT"] = 0
    evt = se.event("charge.succeeded", se.charge(payment_intent="pi_lost"))
    with celery_disabled():
        assert se.deliver(client, evt).json["result"] == "stored"
    assert requeue_waiting_events.apply().result == 1  # inline: processed on the spot
    db.session.expire_all()
    assert db.session.get(StripeEvent, evt["id"]).processed_at is not None
    assert requeue_waiting_events.apply().result == 0


def test_an_event_its_handler_refuses_is_marked_and_audited_not_retried_forever(app, client, monkeypatch):
    from rewards.audit.models import AuditEvent
    from rewards.errors import InvalidInput
    from rewards.sales import stripe_events

    def refuse(obj):
        raise InvalidInput("The charge names no amount.", "amount")

    monkeypatch.setitem(stripe_events.HANDLERS, "charge.succeeded", refuse)
    evt = se.event("charge.succeeded", se.charge())
    assert se.deliver(client, evt).json["result"] == "rejected"
    assert db.session.get(StripeEvent, evt["id"]).processed_at is not None
    audit = db.session.scalars(db.select(AuditEvent).filter_by(action="stripe.event_rejected")).one()
    assert audit.detail == {"event_id": evt["id"], "type": "charge.succeeded",
                            "errors": {"amount": ["The charge names no amount."]}}
    app.config["CELERY_VISIBILITY_TIMEOUT"] = 0
    assert requeue_waiting_events.apply().result == 0


def _freeze_in_a_process_of_its_own(load: str, hook: str, env: dict) -> tuple[int, int, int]:
    """Run `load` (Python loading the app) then `hook` (the freeze) in a fresh interpreter, as a worker is: freezing
    this process would hold other tests' garbage. (objects tracked before the hook, frozen by it, tracked after)."""
    import subprocess
    import sys

    script = (f"import gc\n{load}\n"
              "tracked = len(gc.get_objects())\n"
              "assert gc.get_freeze_count() == 0\n"
              f"{hook}\n"
              "print(tracked, gc.get_freeze_count(), len(gc.get_objects()))\n")
    answer = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert answer.returncode == 0, answer.stderr
    tracked, frozen, left = map(int, answer.stdout.split())
    return tracked, frozen, left


def test_a_web_worker_freezes_what_loading_the_app_made_so_collections_skip_it(tmp_path):
    """gunicorn calls post_worker_init once the worker has loaded the app: everything alive then is frozen, out of
    the garbage collector's full collections (a pause of 110-230 ms on two cores, the slowest requests' wait)."""
    import os

    load = ("import runpy\n"
            "settings = runpy.run_path('gunicorn.conf.py')\n"
            "from rewards import create_app\n"
            "from tests.conftest import _config\n"
            "create_app(_config('sqlite://'))")
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}  # the settings file would make a directory
    tracked, frozen, left = _freeze_in_a_process_of_its_own(load, "settings['post_worker_init'](None)", env)
    assert frozen >= tracked and left < tracked / 100


def test_a_celery_pool_process_freezes_what_loading_the_app_made(tmp_path):
    """Celery sends worker_process_init in each pool process it forks: the app loaded then is frozen, as in a web
    worker."""
    import os

    load = "from celery.signals import worker_process_init\nimport rewards.worker"
    env = {**os.environ, "FLASK_DEBUG": "1", "DATABASE_URL": f"sqlite:///{tmp_path / 'worker.db'}",
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    env.pop("REDIS_URL", None)
    tracked, frozen, left = _freeze_in_a_process_of_its_own(load, "worker_process_init.send(sender=None)", env)
    assert frozen >= tracked and left < tracked / 100
