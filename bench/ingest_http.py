"""Sale ingestion over HTTP: POST /api/v1/sales (validated, weighed) vs a bare Flask insert endpoint,
both served by gunicorn (4 workers) on PostgreSQL and driven by wrk from another process in the same run;
then Stripe webhook acceptance with Redis and Celery workers: events/s the web tier stores and queues, and
how fast the workers drain them.

    python -m bench.ingest_http [--seconds 20] [--connections 16] [--warmup 3] [--celery-workers 2]

Each server is warmed up first (workers booted, caches and prepared statements filled) with buyers no
referral names, so the measured run starts from the same data either way. Targets (issue 14): the sales
endpoint at >= 0.5 of the bare endpoint's rate, p99 < 50 ms. The machine's load average is printed with the
figures: on a shared machine they move with it.
"""
import argparse
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import tempfile
import time
import urllib.request

import psycopg

from bench.common import BIN, ROOT, env_for, flask, measured, scratch_database

WORKERS = "4"
WEBHOOK_SECRET = "whsec_bench_" + "b" * 24
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")

LUA = """
local n = 0
function setup(thread) n = n + 1; thread:set("tid", n) end
local counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"external_id":"%s-t%%d-%%d-%%d","email":"%s%%d@example.com","amount":5000,'
    .. '"currency":"usd","occurred_at":"2026-06-01T10:00:00Z"}', tid, counter, math.random(1, 1000000000),
    counter)
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}, body)
end
"""


def prepare(url: str, env: dict) -> str:
    """Schema, a coordinator's API key, a program and 2,000 referrals the load's first buyers match."""
    measured(flask("db", "upgrade", "heads"), env)
    subprocess.run(flask("users", "create", "--email", "bench@example.com", "--role", "coordinator"), cwd=ROOT,
                   env=env, input="bench-password-123\nbench-password-123\n", text=True, check=True,
                   capture_output=True)
    key = subprocess.run(flask("api-keys", "create", "--email", "bench@example.com"), cwd=ROOT, env=env,
                         text=True, check=True, capture_output=True).stdout.strip().splitlines()[-1]
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("CREATE TABLE bench_bare (id serial PRIMARY KEY, external_id varchar(255) UNIQUE NOT NULL, "
                     "email varchar(254) NOT NULL, amount integer NOT NULL)")
        conn.execute("INSERT INTO programs (name, currency, version, reward_type, amount, min_sale_amount, attribution_days,"
                     " hold_days, effective_from, active, created_at) VALUES ('Bench', 'usd', 1, 'flat', 1000, 2000,"
                     " 30, 14, '2025-01-01Z', true, now())")
        conn.execute("INSERT INTO customers (email, name, referral_code, created_at) SELECT 'ref' || i || "
                     "'@example.com', 'Referrer', 'code' || i, now() FROM generate_series(1, 200) i")
        conn.execute("INSERT INTO referrals (referrer_id, referee_email, referee_name, status, source, created_at,"
                     " updated_at) SELECT (SELECT min(id) FROM customers) + i % 200, 'buyer' || i || "
                     "'@example.com', 'Buyer', 'pending', 'api', '2026-05-25Z', '2026-05-25Z' "
                     "FROM generate_series(1, 2000) i")
    return key


def serve(app: str, env: dict, port: int) -> subprocess.Popen:
    server = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-w", WORKERS, "-b", f"127.0.0.1:{port}", app],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing-here", timeout=1)
        except urllib.error.HTTPError:
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"gunicorn {app} did not start")


def load(port: int, path: str, key: str, seconds: int, connections: int, buyer: str = "buyer") -> dict:
    return wrk(port, LUA % (buyer, buyer, path, key), seconds, connections)


def wrk(port: int, lua: str, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script.name,
                              f"http://127.0.0.1:{port}"], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": rate, "p99": p99, "non_2xx": int(errors.group(1)) if errors else 0,
            "load": os.getloadavg()[0]}


WEBHOOK_LUA = """
local lines = {}
for line in io.lines("%s") do lines[#lines + 1] = line end
local threads, n = %d, 0
function setup(thread) n = n + 1; thread:set("tid", n) end
local i = 0
request = function()
  local index = ((tid - 1) + i * threads) %% #lines + 1
  i = i + 1
  local signature, body = lines[index]:match("^([^\t]+)\t(.*)$")
  return wrk.format("POST", "/webhooks/stripe", {["Content-Type"] = "application/json",
                                                 ["Stripe-Signature"] = signature}, body)
end
"""


def signed_events(path: str, count: int) -> None:
    """`count` distinct charge.succeeded events, each signed now (Stripe's tolerance is 5 minutes)."""
    now = int(time.time())
    with open(path, "w") as out:
        for i in range(count):
            event = {"id": f"evt_bench_{i}", "object": "event", "type": "charge.succeeded", "created": now,
                     "livemode": False, "data": {"object": {
                         "id": f"ch_bench_{i}", "object": "charge", "amount": 5000, "currency": "usd",
                         "status": "succeeded", "paid": True, "created": now, "payment_intent": f"pi_bench_{i}",
                         "billing_details": {"email": f"hook{i}@example.com"},
                         "payment_method_details": {"type": "card", "card": {"fingerprint": f"fp{i:012d}"}}}}}
            body = json.dumps(event, separators=(",", ":"))
            digest = hmac.new(WEBHOOK_SECRET.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
            out.write(f"t={now},v1={digest}\t{body}\n")


def webhooks(url: str, env: dict, seconds: int, connections: int, celery_workers: int) -> dict:
    """Webhook acceptance with Redis and Celery workers running, then the time the workers take to drain."""
    import redis

    broker = redis.Redis.from_url(REDIS_URL)
    broker.flushdb()
    env = {**env, "REDIS_URL": REDIS_URL, "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET}
    workers = [subprocess.Popen([os.path.join(BIN, "celery"), "-A", "rewards.worker", "worker", "-c", "2",
                                 "-n", f"bench{i}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True) for i in range(celery_workers)]
    server = serve("wsgi:app", env, 8766)
    events = tempfile.NamedTemporaryFile("w", suffix=".tsv", delete=False).name
    try:
        signed_events(events, max(20000, 1500 * seconds))
        result = wrk(8766, WEBHOOK_LUA % (events, 2), seconds, connections)
        stored_at = time.monotonic()
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            stored = conn.execute("SELECT count(*) FROM stripe_events").fetchone()[0]
            waiting = stored
            while waiting and time.monotonic() - stored_at < 600:
                time.sleep(1)
                waiting = conn.execute("SELECT count(*) FROM stripe_events WHERE processed_at IS NULL").fetchone()[0]
        drained = time.monotonic() - stored_at
        result.update(stored=stored, left=waiting, drained=drained)
        return result
    finally:
        server.terminate()
        server.wait()
        for worker in workers:
            os.killpg(worker.pid, signal.SIGTERM)
        for worker in workers:
            worker.wait(60)
        os.unlink(events)
        broker.flushdb()
        broker.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--warmup", type=int, default=3, help="seconds of load before measuring (0: none)")
    parser.add_argument("--celery-workers", type=int, default=2, help="Celery workers (2 processes each)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with scratch_database("bench_sales_http") as url:
        env = env_for(url)
        key = prepare(url, env)
        results = {}
        for name, app, path in (("bare Flask insert", "bench.bare_app:app", "/bare"),
                                ("POST /api/v1/sales", "wsgi:app", "/api/v1/sales")):
            server = serve(app, env, 8765)
            try:
                if args.warmup:
                    load(8765, path, key, args.warmup, args.connections, buyer="warmup")
                results[name] = load(8765, path, key, args.seconds, args.connections)
            finally:
                server.terminate()
                server.wait()
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            sales = conn.execute("SELECT count(*) FROM sales WHERE email LIKE 'buyer%'").fetchone()[0]
            qualified = conn.execute("SELECT count(*) FROM referrals WHERE status = 'qualified'").fetchone()[0]
        hooks = webhooks(url, env, args.seconds, args.connections, args.celery_workers)
    print(f"gunicorn {WORKERS} workers, wrk 2 threads {args.connections} connections, "
          f"{args.seconds}s each, PostgreSQL; load average before {load_before[0]:.1f} ({os.cpu_count()} cores)")
    for name, result in results.items():
        print(f"{name:22} {result['rate']:8.0f} requests/s   p99 {result['p99']:>8}   non-2xx {result['non_2xx']}"
              f"   load average after {result['load']:.1f} ({os.cpu_count()} cores)")
    ratio = results["POST /api/v1/sales"]["rate"] / results["bare Flask insert"]["rate"]
    print(f"POST /api/v1/sales runs at {ratio:.2f} of the bare endpoint's rate (target >= 0.5; p99 target < 50ms) "
          f"({sales:,} sales stored, {qualified:,} referrals qualified on the way)")
    print(f"POST /webhooks/stripe with Redis and {args.celery_workers} Celery workers ({2 * args.celery_workers} "
          f"processes) running: {hooks['rate']:.0f} events/s accepted, p99 {hooks['p99']}, non-2xx "
          f"{hooks['non_2xx']}, load average after {hooks['load']:.1f}; the workers processed the "
          f"{hooks['stored']:,} stored events {hooks['drained']:.0f}s after the load stopped"
          + (f" ({hooks['left']:,} still waiting)" if hooks["left"] else ""))


if __name__ == "__main__":
    main()
