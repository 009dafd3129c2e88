"""End to end on PostgreSQL and Redis: two gunicorn servers and two Celery workers take a burst of Stripe
events and execute a payout batch against the fake Stripe, while the worker running the batch is SIGKILLed
midway (and restarted, as a supervisor would); every event is processed once, every item is paid by exactly
one transfer and settled once, and the ledger stays sound.

E2E_EVENTS sets the burst's size (the issue's figure is 2,000; the suite's default keeps CI short) and
E2E_PAYOUTS the batch's (the issue's 500 by default); E2E_REDIS_URL the Redis database it flushes.
"""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import celery
import redis
import sqlalchemy as sa

from rewards.extensions import db
from rewards.payouts import service as payouts
from rewards.payouts.models import PayoutItem
from rewards.sales.models import Sale, StripeEvent
from tests import factories
from tests import stripe_events as se
from tests.conftest import ROOT
from tests.payouts_support import SECRET_KEY, fake_stripe, many_referrers_owed, users_of_finance  # noqa: F401
from tests.test_ops_health import redis_server  # noqa: F401  (fixture)

BIN = os.path.dirname(sys.executable)
EVENTS = int(os.environ.get("E2E_EVENTS", "240"))
PAYOUTS = int(os.environ.get("E2E_PAYOUTS", "500"))
REDIS_DB = os.environ.get("E2E_REDIS_URL", "redis://127.0.0.1:6379/14")  # flushed: a database of its own


def _free_port() -> int:
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


class Cluster:
    """Processes started in sessions of their own, so each (with its children) can be killed as a group."""

    def __init__(self, env: dict, logs: str):
        self.env, self.logs, self.procs = env, logs, {}

    def start(self, name: str, args: list) -> subprocess.Popen:
        with open(os.path.join(self.logs, f"{name}.log"), "w") as out:  # the child keeps its own copy
            proc = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        with open(os.path.join(self.logs, f"{name}.log")) as handle:
            return handle.read()

    def kill(self, name: str, sig=signal.SIGKILL):
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        proc.wait(30)

    def stop_all(self):
        for name, proc in self.procs.items():
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for name, proc in self.procs.items():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _wait_for(url: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"{url} did not answer")


def _call(url: str, secret: str, body: dict | None = None) -> tuple[int, dict]:
    """The JSON API as an integration calls it: a POST with a Bearer key."""
    request = urllib.request.Request(url, data=json.dumps(body or {}).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {secret}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _post(url: str, payload: bytes, headers: dict) -> dict:
    request = urllib.request.Request(url, data=payload, headers=headers, method="POST")
    for attempt in range(5):  # as Stripe does: a delivery that fails is tried again
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read())
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("the webhook did not answer")


def _processed(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM stripe_events WHERE processed_at IS NOT NULL")).scalar()


def _paid(engine, batch_id: int) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM payout_items WHERE batch_id = :b AND status = 'paid'"),
                            {"b": batch_id}).scalar()


def _worker_command(name: str) -> list:
    return [os.path.join(BIN, "celery"), "-A", "rewards.worker", "worker", "-c", "2",
            "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle", "-l", "INFO"]


def test_a_burst_of_events_and_a_payout_batch_survive_a_killed_worker(postgres, migrated, redis_server,  # noqa: F811
                                                                      fake_stripe, tmp_path):  # noqa: F811
    broker = redis.Redis.from_url(REDIS_DB)
    broker.flushdb()
    fake_stripe.latency = 0.02  # a transfer answers in 20 ms: the batch takes seconds, long enough to kill midway
    env = {**os.environ, "DATABASE_URL": migrated, "SECRET_KEY": uuid.uuid4().hex * 2, "FLASK_DEBUG": "0",
           "REDIS_URL": REDIS_DB, "STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET,
           "PUBLIC_BASE_URL": "https://refer.example.com", "REFERO_ENV": "production",
           "CELERY_VISIBILITY_TIMEOUT": "15", "PYTHONUNBUFFERED": "1", "WEB_CONCURRENCY": "2",
           "STRIPE_SECRET_KEY": SECRET_KEY, "STRIPE_API_BASE": fake_stripe.url, "STRIPE_TIMEOUT_SECONDS": "5",
           "STRIPE_MAX_REQUESTS_PER_SECOND": "2000", "PAYOUT_CONCURRENCY": "2", "PAYOUT_LEASE_SECONDS": "5",
           "PAYOUT_MINIMUM_AMOUNT": "500", "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cluster = Cluster(env, str(tmp_path))
    ports = [_free_port(), _free_port()]
    pool = ThreadPoolExecutor(8)  # delivers the burst
    try:
        for i, port in enumerate(ports):
            cluster.start(f"web{i}", [os.path.join(BIN, "gunicorn"), "-b", f"127.0.0.1:{port}", "wsgi:app"])
        for i in range(2):
            cluster.start(f"worker{i}", _worker_command(f"e2e{i}"))

        # While the processes start: referrers with a payable reward and a ready account at the fake Stripe, and
        # the batch of them drafted by one finance user (the function behind POST /api/v1/payout-batches).
        many_referrers_owed(fake_stripe, PAYOUTS, amount=1200)
        drafter, approver = users_of_finance()
        _, drafter_key = factories.api_key(drafter)
        _, approver_key = factories.api_key(approver)
        buyers = [f"e2e-buyer-{i}@example.com" for i in range(EVENTS)]
        for email in buyers[::3]:  # a third of the buyers were referred: their sales earn rewards in the ledger
            factories.referral(email=email)
        drafted = payouts.draft_batch("usd", None, drafter)
        db.session.commit()
        batch_id = drafted.id
        assert len(drafted.items) == PAYOUTS and drafted.skipped == []
        for port in ports:
            _wait_for(f"http://127.0.0.1:{port}/readyz")

        # A second finance user approves it on the other server (four eyes); it is executed by the workers.
        api = [f"http://127.0.0.1:{port}/api/v1/payout-batches" for port in ports]
        status, approved = _call(f"{api[1]}/{batch_id}/approve", approver_key)
        assert (status, approved["status"]) == (200, "approved"), approved

        events = [se.event("charge.succeeded", se.charge(payment_intent=f"pi_e2e_{i}", email=buyers[i],
                                                         amount=5000, fingerprint=f"fp_e2e_{i}"))
                  for i in range(EVENTS)]
        # Every tenth event is delivered twice (Stripe retries), to either server.
        deliveries = [(i, evt) for i, evt in enumerate(events)] + [(i + 1, evt) for i, evt in enumerate(events[::10])]

        def deliver(item):
            i, evt = item
            payload, headers = se.signed(evt)
            headers["X-Request-ID"] = f"e2e-{evt['id']}"
            return _post(f"http://127.0.0.1:{ports[i % 2]}/webhooks/stripe", payload, headers)["result"]

        engine = db.engine
        started = time.monotonic()
        burst = pool.map(deliver, deliveries)  # delivered meanwhile, by the pool's threads
        # The batch is executed once the workers are busy with the burst.
        while _processed(engine) < EVENTS // 8 and time.monotonic() - started < 60:
            time.sleep(0.1)
        status, executing = _call(f"{api[0]}/{batch_id}/execute", drafter_key)
        assert status == 202, executing

        # The worker that took the batch is SIGKILLed midway through it, with webhook events of its own in hand.
        holder, deadline = None, time.monotonic() + 60
        while time.monotonic() < deadline:
            holder = holder or next((name for name in ("worker0", "worker1")
                                     if "Task rewards.payouts.execute_batch[" in cluster.log(name)), None)
            if holder and _paid(engine, batch_id) >= PAYOUTS // 5:
                break
            time.sleep(0.05)
        assert holder, "no worker took the payout batch"
        cluster.kill(holder)
        paid_at_kill, processed_at_kill = _paid(engine, batch_id), _processed(engine)
        killed = time.monotonic() - started
        assert 0 < paid_at_kill < PAYOUTS, "the worker was not killed midway through the batch"
        assert processed_at_kill < EVENTS, "the worker was killed after the burst was done: nothing was tested"
        survivor = "worker1" if holder == "worker0" else "worker0"
        cluster.start("worker2", _worker_command("e2e2"))  # as a supervisor would restart it

        answers = list(burst)
        pool.shutdown()
        accepted = time.monotonic() - started
        assert set(answers) <= {"queued", "replay"} and answers.count("queued") >= EVENTS

        # Its tasks go back to the queue after the visibility timeout; its items' leases run out. A task message
        # the SIGKILL caught between Redis handing it over and the worker noting it as unacknowledged is gone: the
        # stored event is queued again by beat's sweep (every 5 minutes in a deployment; here a timeout later).
        deadline = time.monotonic() + 120 + EVENTS / 10 + PAYOUTS / 10
        sweep_at, sweeps = time.monotonic() + 45, 0
        beat = celery.Celery(broker=REDIS_DB)
        while (_processed(engine) < EVENTS or _paid(engine, batch_id) < PAYOUTS) and time.monotonic() < deadline:
            if time.monotonic() > sweep_at:
                beat.send_task("rewards.webhooks.requeue_waiting", queue="webhooks")
                sweep_at, sweeps = time.monotonic() + 15, sweeps + 1
            time.sleep(1)
        assert _processed(engine) == EVENTS, cluster.log(survivor)[-3000:]
        assert _paid(engine, batch_id) == PAYOUTS, cluster.log(survivor)[-3000:]

        db.session.remove()
        sales = db.session.scalars(sa.select(Sale).where(Sale.email.like("e2e-buyer-%"))).all()
        assert sorted(sale.stripe_payment_intent for sale in sales) == sorted(f"pi_e2e_{i}" for i in range(EVENTS))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == EVENTS
        recorded = db.session.execute(sa.text("SELECT count(*) FROM audit_events WHERE action = 'sale.recorded'"))
        assert recorded.scalar() == EVENTS  # each sale landed once: its effects ran once

        # Every item paid by exactly one transfer at Stripe, the one it records; the batch is paid.
        items = db.session.scalars(sa.select(PayoutItem).filter_by(batch_id=batch_id)).all()
        made = {}
        for transfer in fake_stripe.transfers_made():
            made.setdefault(transfer["transfer_group"], []).append(transfer)
        assert len(made) == len(items) == PAYOUTS
        for item in items:
            assert [(t["id"], t["amount"], t["destination"]) for t in made[item.transfer_group]] \
                == [(item.stripe_transfer_id, item.amount, item.destination)], item.id
        deadline = time.monotonic() + 30  # the executor records the batch's end after its last item
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                batch_status = conn.execute(sa.text("SELECT status FROM payout_batches WHERE id = :b"),
                                            {"b": batch_id}).scalar()
            if batch_status == "paid":
                break
            time.sleep(0.5)
        assert batch_status == "paid"
        settled = db.session.execute(sa.text("SELECT count(*) FROM audit_events WHERE action = 'payout_item.paid'"))
        assert settled.scalar() == PAYOUTS  # each item was settled in the ledger once
        again = cluster.log(survivor) + cluster.log("worker2")
        assert "Task rewards.payouts.execute_batch[" in again  # the batch's task was handed out again, and finished
        ledger = subprocess.run([os.path.join(BIN, "flask"), "--app", "wsgi", "ledger", "check"], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        assert ledger.returncode == 0, ledger.stderr

        # Each server sums its two workers' counters (multiprocess mode); together they saw every delivery.
        stored = 0
        for port in ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
                text = response.read().decode()
            stored += sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                          if line.startswith('refero_webhook_events_total{outcome="stored"}'))
            assert 'refero_http_request_duration_seconds_count{endpoint="webhooks.stripe_webhook"' in text
        assert stored == answers.count("queued")
        # Servers log JSON lines only, the access lines under the request's id, no signature or secret.
        web = cluster.log("web0") + cluster.log("web1")
        access = [json.loads(line) for line in web.splitlines() if '"gunicorn.access"' in line]
        assert all(line.startswith("{") for line in web.splitlines() if line.strip())
        assert sum(1 for line in access if (line["request_id"] or "").startswith("e2e-evt_")) == len(deliveries)
        assert se.WEBHOOK_SECRET.removeprefix("whsec_") not in web and "v1=" not in web
        assert SECRET_KEY not in web + cluster.log(survivor) + cluster.log("worker2")

        # The surviving worker logged JSON lines under the ids of the requests that brought the events.
        lines = [json.loads(line) for line in cluster.log(survivor).splitlines() if line.startswith("{")]
        assert any((line.get("request_id") or "").startswith("e2e-evt_") for line in lines)
        print(f"\n{EVENTS} events (+{len(deliveries) - EVENTS} repeats) accepted in {accepted:.1f}s "
              f"({len(deliveries) / accepted:.0f}/s) by 2 servers; {PAYOUTS}-item batch; {holder} killed after "
              f"{killed:.1f}s at {processed_at_kill} events processed and {paid_at_kill} items paid; all done after "
              f"{time.monotonic() - started:.1f}s ({sweeps} sweeps); load average {os.getloadavg()[0]:.1f}")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        cluster.stop_all()
        broker.flushdb()
        broker.close()
