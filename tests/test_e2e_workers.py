"""End to end on PostgreSQL and Redis: two gunicorn servers and two Celery workers take a burst of Stripe
events while one worker is SIGKILLed midway; every event is processed once and the ledger stays sound.

E2E_EVENTS sets the burst's size (the issue's figure is 2,000; the suite's default keeps CI short).
"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import sqlalchemy as sa

from rewards.extensions import db
from rewards.sales.models import Sale, StripeEvent
from tests import factories
from tests import stripe_events as se
from tests.test_ops_health import redis_server  # noqa: F401  (fixture)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)
EVENTS = int(os.environ.get("E2E_EVENTS", "240"))
REDIS_DB = "redis://127.0.0.1:6379/14"


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


def test_a_burst_of_events_survives_a_killed_worker(postgres, migrated, redis_server, tmp_path):  # noqa: F811
    broker = redis.Redis.from_url(REDIS_DB)
    broker.flushdb()
    program = factories.program(amount=1500)
    buyers = [f"e2e-buyer-{i}@example.com" for i in range(EVENTS)]
    for email in buyers[::3]:  # a third of the buyers were referred: their sales earn rewards in the ledger
        factories.referral(email=email)
    assert program.id
    env = {**os.environ, "DATABASE_URL": migrated, "SECRET_KEY": uuid.uuid4().hex * 2, "FLASK_DEBUG": "0",
           "REDIS_URL": REDIS_DB, "STRIPE_WEBHOOK_SECRET": se.WEBHOOK_SECRET,
           "PUBLIC_BASE_URL": "https://refer.example.com", "REFERO_ENV": "production",
           "CELERY_VISIBILITY_TIMEOUT": "15", "PYTHONUNBUFFERED": "1", "WEB_CONCURRENCY": "2"}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    cluster = Cluster(env, str(tmp_path))
    ports = [_free_port(), _free_port()]
    try:
        for i, port in enumerate(ports):
            cluster.start(f"web{i}", [os.path.join(BIN, "gunicorn"), "-b", f"127.0.0.1:{port}", "wsgi:app"])
        for i in range(2):
            cluster.start(f"worker{i}", [os.path.join(BIN, "celery"), "-A", "rewards.worker", "worker", "-c", "2",
                                         "-n", f"e2e{i}-{uuid.uuid4().hex[:6]}@%h", "--without-gossip",
                                         "--without-mingle", "-l", "INFO"])
        for port in ports:
            _wait_for(f"http://127.0.0.1:{port}/readyz")

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
        killed_at = None
        started = time.monotonic()
        with ThreadPoolExecutor(8) as pool:
            answers = []
            for answer in pool.map(deliver, deliveries):
                answers.append(answer)
                if killed_at is None and _processed(engine) >= EVENTS // 4:
                    cluster.kill("worker0")  # midway: it holds tasks it took and never acknowledged
                    killed_at = _processed(engine)
        accepted = time.monotonic() - started
        assert set(answers) <= {"queued", "replay"} and answers.count("queued") >= EVENTS
        if killed_at is None:  # the burst was accepted before the workers got far: kill one now
            cluster.kill("worker0")
            killed_at = _processed(engine)
        assert killed_at < EVENTS, "the worker was killed after the work was done: nothing was tested"

        deadline = time.monotonic() + 120 + EVENTS / 10
        while _processed(engine) < EVENTS and time.monotonic() < deadline:
            time.sleep(1)
        assert _processed(engine) == EVENTS, cluster.log("worker1")[-3000:]

        db.session.remove()
        sales = db.session.scalars(sa.select(Sale).where(Sale.email.like("e2e-buyer-%"))).all()
        assert sorted(sale.stripe_payment_intent for sale in sales) == sorted(f"pi_e2e_{i}" for i in range(EVENTS))
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StripeEvent)) == EVENTS
        recorded = db.session.execute(sa.text("SELECT count(*) FROM audit_events WHERE action = 'sale.recorded'"))
        assert recorded.scalar() == EVENTS  # each sale landed once: its effects ran once
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

        # The surviving worker logged JSON lines under the ids of the requests that brought the events.
        lines = [json.loads(line) for line in cluster.log("worker1").splitlines() if line.startswith("{")]
        assert any((line.get("request_id") or "").startswith("e2e-evt_") for line in lines)
        print(f"\n{EVENTS} events (+{len(deliveries) - EVENTS} repeats) accepted in {accepted:.1f}s "
              f"({len(deliveries) / accepted:.0f}/s) by 2 servers; worker0 killed at {killed_at} processed; "
              f"all processed after {time.monotonic() - started:.1f}s; load average {os.getloadavg()[0]:.1f}")
    finally:
        cluster.stop_all()
        broker.flushdb()
        broker.close()
