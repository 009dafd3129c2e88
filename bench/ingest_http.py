"""Sale ingestion over HTTP: POST /api/v1/sales (validated, weighed) vs a bare Flask insert endpoint,
both served by gunicorn (4 workers) on PostgreSQL and driven by wrk from another process in the same run (Refero
configured as in production, with Redis: the mail a qualifying sale starts is queued, not sent by the web worker);
then Stripe webhook acceptance with Redis and Celery workers: events/s the web tier stores and queues, and
how fast the workers drain them.

    python -m bench.ingest_http [--seconds 20] [--connections 16] [--warmup 3] [--celery-workers 2]
                                [--referred-every 20] [--rounds 4] [--steady-rate 100]

The database starts as a running business's does: a year of earlier sales (HISTORY), 20,000 pending referrals,
and planner statistics on them. Both servers run side by side, each warmed up first with the same mix (workers
booted, caches and prepared statements filled, a qualifying sale's included); then they are loaded in turns,
`--rounds` windows each (bare, sales, sales, bare, …), so the ratio is measured under the same load. Every 20th
sale (--referred-every) is by a buyer a pending referral names, and qualifies it; the rest match nothing. The p99
printed is the median window's. Targets (issue 14): the sales endpoint at >= 0.5 of the bare endpoint's rate,
p99 < 50 ms. The machine's load average is printed with the figures: on a shared machine they move with it.

At full load every connection always has a request waiting, so the average wait is connections / rate (Little's
law): 16 connections at 320 requests/s wait 50 ms on average, however cheap the request. The run therefore also
measures latency at a steady load both endpoints can carry (--steady-rate requests/s, each connection pausing
after every answer), which is what a p99 target can speak of. And it splits the sales windows' time from
gunicorn's access log: what plain and qualifying sales spent inside the server, and so how much of wrk's mean was
the wait for a free worker.
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

# Most buyers were referred by nobody; every `every`-th sale is by a buyer a pending referral names (each named
# once: the threads take turns, a window starts past the buyers the windows before it named), so the share of
# sales that qualify a referral is fixed whatever the rate (it used to be every sale of the first 2,000 per
# thread: a slow server weighed nothing but matches). `tag` keeps each window's external ids its own.
LUA = """
local n, threads, every, offset = 0, %d, %d, %d
function setup(thread) n = n + 1; thread:set("tid", n) end
local counter = 0
request = function()
  counter = counter + 1
  local buyer
  if every > 0 and counter %% every == 0 then
    buyer = string.format("buyer%%d", offset + (counter / every - 1) * threads + tid)
  else
    buyer = string.format("%s-t%%d-%%d", tid, counter)
  end
  local body = string.format('{"external_id":"%s-t%%d-%%d","email":"%%s@example.com","amount":5000,'
    .. '"currency":"usd","occurred_at":"2026-06-01T10:00:00Z"}', tid, counter, buyer)
  return wrk.format("POST", "%s", {["Content-Type"] = "application/json", ["Authorization"] = "Bearer %s"}, body)
end
"""
THREADS = 2
REFERRALS = 20000
WARMUP_BUYERS = 5000  # the last referred buyers are the warm-up's; the windows start from the first
HISTORY = 50000  # earlier sales, one every 10 minutes from 2025-06-01: a year before the measured sales


def prepare(url: str, env: dict) -> str:
    """Schema, a coordinator's API key, a program and REFERRALS pending referrals naming buyer1, buyer2, …"""
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
                     f"FROM generate_series(1, {REFERRALS}) i")
        # A running business's year of history, and planner statistics on it: without them PostgreSQL plans the
        # measured minute by guesses for empty tables (a year's sales "1 row"), until autovacuum first analyzes.
        conn.execute("INSERT INTO sales (external_id, email, amount, currency, occurred_at, source, content_hash, "
                     "created_at) SELECT 'past-' || i, 'past' || i || '@example.com', 5000, 'usd', "
                     "timestamptz '2025-06-01Z' + i * interval '10 minutes', 'api', md5(i::text), now() "
                     f"FROM generate_series(1, {HISTORY}) i")
        conn.execute("ANALYZE")
    return key


def serve(app: str, env: dict, port: int, log=subprocess.DEVNULL) -> subprocess.Popen:
    """gunicorn serving `app` as gunicorn.conf.py says (4 workers); its log (access lines included) to `log`."""
    server = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-w", WORKERS, "-b", f"127.0.0.1:{port}", app],
                              cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(100):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/nothing-here", timeout=1)
        except urllib.error.HTTPError:
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit(f"gunicorn {app} did not start")


def load(port: int, path: str, key: str, seconds: int, connections: int, tag: str, every: int = 0,
         offset: int = 0, pause: int = 0) -> dict:
    """Sales to `path` for `seconds`: every `every`-th by a referred buyer (buyer<offset + 1>, …), the rest by
    buyers named `<tag>-…` whom no referral names. `pause`: milliseconds each connection waits after an answer
    before its next request (0: none, as fast as the server answers)."""
    lua = LUA % (THREADS, every, offset, tag, tag, path, key)
    if pause:
        lua += f"function delay() return {pause} end\n"
    return wrk(port, lua, seconds, connections)


def wrk(port: int, lua: str, seconds: int, connections: int) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua)
    try:
        out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s",
                              script.name, f"http://127.0.0.1:{port}"], capture_output=True, text=True,
                             check=True).stdout
    finally:
        os.unlink(script.name)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    mean = re.search(r"Latency\s+([\d.]+\w+)", out).group(1)
    requests, took, unit = re.search(r"(\d+) requests in ([\d.]+)(\w+),", out).groups()
    p99 = re.search(r"99%\s+([\d.]+\w+)", out).group(1)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rate": rate, "p99": p99, "p99_ms": milliseconds(p99), "mean_ms": milliseconds(mean),
            "requests": int(requests),
            "seconds": milliseconds(took + unit) / 1000, "non_2xx": int(errors.group(1)) if errors else 0,
            "load": os.getloadavg()[0]}


def milliseconds(duration: str) -> float:
    """wrk's durations (850.00us, 12.31ms, 1.20s, 1.00m) in milliseconds."""
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", duration).groups()
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


ENDPOINTS = {"bare Flask insert": (8765, "/bare"), "POST /api/v1/sales": (8767, "/api/v1/sales")}


def compare(key: str, seconds: int, connections: int, rounds: int, every: int,
            sales_log: str) -> tuple[dict, int, dict]:
    """The bare endpoint and POST /api/v1/sales served side by side and loaded in turns (bare, sales, sales,
    bare, …: `rounds` windows each), so a change in the shared machine's load falls on both alike; (the figures,
    the first referred buyer no window named, the sales windows' time inside the server: inside())."""
    windows = {name: [] for name in ENDPOINTS}
    offset, spans = 0, []
    for index in range(2 * rounds):
        name = list(ENDPOINTS)[(index % 2) ^ (index // 2 % 2)]  # bare, sales, sales, bare, …
        port, path = ENDPOINTS[name]
        start = os.path.getsize(sales_log)
        window = load(port, path, key, max(1, round(seconds / rounds)), connections, f"buyer-w{index}", every, offset)
        if path == "/api/v1/sales":
            spans.append((start, os.path.getsize(sales_log)))
        windows[name].append(window)
        if every:
            offset += (window["requests"] // every + 1) * THREADS  # past every referred buyer it may have named
    results = {}
    for name, runs in windows.items():
        p99s = sorted(run["p99_ms"] for run in runs)
        results[name] = {"rate": sum(r["requests"] for r in runs) / sum(r["seconds"] for r in runs),
                         "p99_ms": p99s[len(p99s) // 2], "p99_max_ms": p99s[-1],
                         "non_2xx": sum(r["non_2xx"] for r in runs), "load": runs[-1]["load"],
                         "windows": [round(r["rate"]) for r in runs],
                         "mean_ms": sum(r["mean_ms"] * r["requests"] for r in runs) / sum(r["requests"] for r in runs)}
    return results, offset, inside(sales_log, spans)


QUALIFIED_BYTES = 200  # a sale's answer with its reward in it is about 450 bytes; without one, under 100


def inside(log: str, spans: list[tuple[int, int]]) -> dict:
    """What the sales windows' requests spent inside gunicorn, from reading the request to sending the answer (its
    JSON access lines, between the byte offsets of each window): {"plain" | "qualifying": (count, mean, p99)}.
    The rest of what wrk measured is the wait for a free worker."""
    times = {"plain": [], "qualifying": []}
    with open(log, "rb") as lines:
        for start, end in spans:
            lines.seek(start)
            for line in lines.read(end - start).splitlines():
                if b'"duration_ms"' not in line:
                    continue
                entry = json.loads(line)
                if entry.get("path") == "/api/v1/sales":
                    times["qualifying" if entry["bytes"] > QUALIFIED_BYTES else "plain"].append(entry["duration_ms"])
    return {kind: (len(spent), sum(spent) / len(spent), sorted(spent)[int(len(spent) * 0.99)])
            for kind, spent in times.items() if spent}


def steady(key: str, rate: int, seconds: int, connections: int, every: int, offset: int) -> dict:
    """Latency at a steady load below both endpoints' capacity: each connection pauses after every answer, so
    about `rate` requests/s arrive whatever the server's speed. With connections that never pause, the time
    a request waits is the queue ahead of it (connections / rate: 32 ms at 500/s with 16), not its own cost."""
    pause = max(1, round(connections * 1000 / rate))
    return {name: load(port, path, key, seconds, connections, f"buyer-s{port}", every, offset, pause)
            for name, (port, path) in ENDPOINTS.items()}


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
    parser.add_argument("--referred-every", type=int, default=20,
                        help="every Nth sale is by a referred buyer and qualifies a referral (0: none)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="windows per endpoint, loaded in turns (--seconds is split between them)")
    parser.add_argument("--steady-rate", type=int, default=100,
                        help="requests/s offered to each endpoint for the latency at a steady load (0: skip)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with scratch_database("bench_sales_http") as url:
        env = env_for(url)
        key = prepare(url, env)
        # Refero's server runs as in production, with Redis configured: the mail a qualifying sale starts is queued
        # for a Celery worker, not rendered and sent by the web worker after its answer (as the embedded default
        # does). No worker consumes during the windows; the webhook part below empties the queue first.
        sales_log = tempfile.NamedTemporaryFile("wb", suffix=".log", delete=False)
        servers = [serve("bench.bare_app:app", env, 8765),
                   serve("wsgi:app", {**env, "REDIS_URL": REDIS_URL}, 8767, log=sales_log)]
        try:
            if args.warmup:  # the same mix, so every worker has built and prepared a qualifying sale's statements
                for port, path in ENDPOINTS.values():
                    load(port, path, key, args.warmup, args.connections, f"warmup{port}", args.referred_every,
                         REFERRALS - WARMUP_BUYERS)
            results, offset, spent = compare(key, args.seconds, args.connections, args.rounds, args.referred_every,
                                             sales_log.name)
            calm = (steady(key, args.steady_rate, max(2, args.seconds // 2), args.connections, args.referred_every,
                           offset) if args.steady_rate else {})
        finally:
            for server in servers:
                server.terminate()
                server.wait()
            sales_log.close()
            os.unlink(sales_log.name)
        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
            sales = conn.execute("SELECT count(*) FROM sales WHERE email LIKE 'buyer%'").fetchone()[0]
            qualified = conn.execute("SELECT count(*) FROM referrals WHERE status = 'qualified'").fetchone()[0]
        hooks = webhooks(url, env, args.seconds, args.connections, args.celery_workers)
    print(f"gunicorn {WORKERS} workers, wrk {THREADS} threads {args.connections} connections, {args.seconds}s each "
          f"in {args.rounds} windows taken in turns, PostgreSQL, Refero with Redis (mail queued for Celery); "
          f"load average before {load_before[0]:.1f} ({os.cpu_count()} cores)")
    for name, result in results.items():
        print(f"{name:22} {result['rate']:8.0f} requests/s   p99 {result['p99_ms']:7.1f}ms (worst window "
              f"{result['p99_max_ms']:.1f}ms)   non-2xx {result['non_2xx']}   windows {result['windows']} requests/s"
              f"   load average after {result['load']:.1f} ({os.cpu_count()} cores)")
    ratio = results["POST /api/v1/sales"]["rate"] / results["bare Flask insert"]["rate"]
    print(f"POST /api/v1/sales runs at {ratio:.2f} of the bare endpoint's rate (target >= 0.5; p99 target < 50ms) "
          f"({sales:,} sales stored, {qualified:,} referrals qualified on the way: "
          + (f"every {args.referred_every}th sale by a referred buyer)" if args.referred_every
             else "no referred buyer)"))
    for name, result in results.items():
        print(f"{name:22} waits {1000 * args.connections / result['rate']:.0f} ms on average at full load: "
              f"{args.connections} connections / {result['rate']:.0f} requests/s (Little's law), whatever one "
              f"request costs")
    if spent:
        sales_result = results["POST /api/v1/sales"]
        served = sum(count * mean for count, mean, _ in spent.values()) / sum(count for count, _, _ in spent.values())
        print("POST /api/v1/sales at full load, inside gunicorn (its access log): "
              + "; ".join(f"{kind} sale {count:,} requests, mean {mean:.1f}ms, p99 {p99:.1f}ms"
                          for kind, (count, mean, p99) in spent.items())
              + f". wrk's mean {sales_result['mean_ms']:.1f}ms: about "
              f"{max(0.0, sales_result['mean_ms'] - served):.0f}ms of it "
              "waiting for a free worker")
    for name, result in calm.items():
        print(f"{name:22} at a steady load ({args.connections} connections, each pausing after every answer): "
              f"{result['rate']:.0f} requests/s, p99 {result['p99_ms']:.1f}ms, non-2xx {result['non_2xx']}")
    print(f"POST /webhooks/stripe with Redis and {args.celery_workers} Celery workers ({2 * args.celery_workers} "
          f"processes) running: {hooks['rate']:.0f} events/s accepted, p99 {hooks['p99']}, non-2xx "
          f"{hooks['non_2xx']}, load average after {hooks['load']:.1f}; the workers processed the "
          f"{hooks['stored']:,} stored events {hooks['drained']:.0f}s after the load stopped"
          + (f" ({hooks['left']:,} still waiting)" if hooks["left"] else ""))


if __name__ == "__main__":
    main()
