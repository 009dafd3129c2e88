"""Payouts: draft and execute a payout batch against the fake Stripe server answering in 50 ms, on PostgreSQL.

    python -m bench.payouts [--items 1000] [--latency 0.05] [--rate 95] [--concurrency 8]
    python -m bench.payouts --items 10000      # the issue's size, by hand

Reports transfers/s, the most requests the fake saw in any one second (Stripe's live limit is 100/s; the fake
answers 429 above it), the executor's own CPU per transfer (its process's CPU time over the run, every thread
included: database work, the SDK, HTTP; split into the main thread's claims and records and the threads' Stripe
calls), the time to draft the batch, and the load average around the run. Targets: >= 80 transfers/s, never over
100 requests/s, < 2 ms CPU per transfer. The fake Stripe server runs in a process of its own so its work is not
counted. The default size is small; the figures per transfer include the executor's start (about 0.2 s of CPU),
which weighs less at 10,000 items.
"""
import argparse
import json
import os
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta

from bench.common import ROOT, env_for, scratch_database

TARGET_RATE, LIMIT, TARGET_CPU_MS = 80, 100, 2.0


def config_for(database_url: str, stripe_url: str, rate: float, concurrency: int):
    from config import TestingConfig

    return type("BenchConfig", (TestingConfig,), {
        "SQLALCHEMY_DATABASE_URI": database_url, "STRIPE_SECRET_KEY": "sk_live_bench_only",
        "STRIPE_API_BASE": stripe_url, "STRIPE_MAX_REQUESTS_PER_SECOND": rate, "PAYOUT_CONCURRENCY": concurrency,
        "STRIPE_TIMEOUT_SECONDS": 10,
        # Logging as a production worker does it (JSON lines at INFO), since that is part of its CPU per transfer.
        "LOG_FORMAT": "json", "LOG_LEVEL": "INFO"})


def seed(app, items: int) -> tuple[int, float]:
    """`items` referrers, each with one payable reward (earned in the ledger) and a ready payout account at the
    fake; drafted into one batch by one finance user and approved by another. Returns the batch id and the seconds
    the draft took."""
    import flask_migrate
    import sqlalchemy as sa

    from rewards.accounts.models import User
    from rewards.clock import utcnow
    from rewards.extensions import db
    from rewards.ledger.postings import earning
    from rewards.ledger.service import post_many
    from rewards.payouts import service

    with app.app_context():
        flask_migrate.upgrade(directory=os.path.join(ROOT, "migrations"), revision="heads")
        now = utcnow()
        then = now - timedelta(days=60)
        conn = db.session
        conn.execute(sa.text(
            "INSERT INTO programs (name, currency, version, reward_type, amount, min_sale_amount, attribution_days,"
            " hold_days, effective_from, active, created_at) VALUES ('Bench', 'usd', 1, 'flat', 1000, 0, 30, 14,"
            " :then, true, :then)"), {"then": then - timedelta(days=400)})
        conn.execute(sa.text(
            "INSERT INTO customers (id, email, name, referral_code, created_at) SELECT g, 'ref' || g || '@example.com',"
            " 'Referrer ' || g, 'code' || g, :then FROM generate_series(1, :n) g"), {"n": items, "then": then})
        conn.execute(sa.text(
            "INSERT INTO referrals (id, referrer_id, referee_email, referee_name, status, source, created_at,"
            " updated_at) SELECT g, g, 'friend' || g || '@example.org', 'Friend ' || g, 'qualified', 'api', :then,"
            " :then FROM generate_series(1, :n) g"), {"n": items, "then": then})
        conn.execute(sa.text(
            "INSERT INTO sales (id, external_id, email, amount, currency, occurred_at, source, referral_id, created_at)"
            " SELECT g, 'sale-' || g, 'friend' || g || '@example.org', 10000, 'usd', :then, 'api', g, :then"
            " FROM generate_series(1, :n) g"), {"n": items, "then": then})
        conn.execute(sa.text(
            "INSERT INTO rewards (id, referral_id, referrer_id, sale_id, program_id, amount, granted_amount,"
            " clawback_amount, currency, status, payable_at, created_at) SELECT g, g, g, g,"
            " (SELECT id FROM programs LIMIT 1), 1000 + g % 500, 1000 + g % 500, 0, 'usd', 'payable', :then, :then"
            " FROM generate_series(1, :n) g"), {"n": items, "then": then})
        for table in ("customers", "referrals", "sales", "rewards"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), :n)"), {"n": items})
        post_many([earning(g, g, "usd", 1000 + g % 500) for g in range(1, items + 1)])
        conn.execute(sa.text(
            "INSERT INTO payout_accounts (customer_id, stripe_account_id, payouts_enabled, transfers_capability,"
            " details_submitted, requirements_due, created_at, updated_at) SELECT g, 'acct_bench' || (g - 1), true,"
            " 'active', true, '[]', :now, :now FROM generate_series(1, :n) g"), {"n": items, "now": now})
        users = [User(email=f"finance{i}@example.com", name=f"Finance {i}", role="finance", password_hash="x")
                 for i in (1, 2)]
        db.session.add_all(users)
        db.session.commit()
        started = time.perf_counter()
        batch = service.draft_batch("usd", 1, users[0])
        db.session.commit()
        drafted = time.perf_counter() - started
        service.approve_batch(batch.id, users[1])
        db.session.commit()
        return batch.id, drafted


def execute(database_url: str, stripe_url: str, batch_id: int, rate: float, concurrency: int) -> None:
    """In the measured child process: run the batch, print wall time, CPU time and counts as JSON."""
    import threading

    from rewards import create_app
    from rewards.payouts.executor import Executor, execute_batch

    # CPU spent inside the Stripe calls (the SDK and HTTP, on the executor's threads), summed over threads.
    in_calls, lock, call = [0.0], threading.Lock(), Executor.call

    def measured_call(self, work):
        started = time.thread_time()
        try:
            return call(self, work)
        finally:
            with lock:
                in_calls[0] += time.thread_time() - started

    Executor.call = measured_call
    app = create_app(config_for(database_url, stripe_url, rate, concurrency))
    with app.app_context():
        wall, cpu, main_cpu = time.perf_counter(), time.process_time(), time.thread_time()
        if os.environ.get("BENCH_PROFILE"):  # where the main thread's CPU goes (claims, records), to standard error
            import cProfile
            import pstats
            profile = cProfile.Profile(time.thread_time)
            result = profile.runcall(execute_batch, batch_id)
            stats = pstats.Stats(profile, stream=sys.stderr)
            stats.sort_stats("cumtime").print_stats("rewards|psycopg/cursor.py|sqlalchemy/orm/session.py", 40)
            stats.sort_stats("tottime").print_stats(30)
        else:
            result = execute_batch(batch_id)
        print(json.dumps({"seconds": time.perf_counter() - wall, "cpu": time.process_time() - cpu,
                          "main_cpu": time.thread_time() - main_cpu, "in_calls": in_calls[0],
                          "status": result["status"],
                          "counts": result["counts"]}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--rate", type=float, default=95)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--execute", nargs=3, metavar=("DATABASE_URL", "STRIPE_URL", "BATCH_ID"), help="internal")
    args = parser.parse_args()
    if args.execute:
        return execute(args.execute[0], args.execute[1], int(args.execute[2]), args.rate, args.concurrency)

    from rewards import create_app

    load_before = os.getloadavg()
    fake = subprocess.Popen([sys.executable, "-m", "tests.fake_stripe", "--latency", str(args.latency),
                             "--rate-limit", str(LIMIT), "--count", str(args.items)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    try:
        stripe_url = fake.stdout.readline().strip()
        with scratch_database("bench_payouts") as url:
            app = create_app(config_for(url, stripe_url, args.rate, args.concurrency))
            batch_id, drafted = seed(app, args.items)
            child = subprocess.run([sys.executable, "-m", "bench.payouts", "--rate", str(args.rate),
                                    "--concurrency", str(args.concurrency), "--execute", url, stripe_url,
                                    str(batch_id)], cwd=ROOT, env=env_for(url), capture_output=True, text=True)
            if child.returncode != 0:
                raise SystemExit(child.stderr[-3000:])
            if os.environ.get("BENCH_PROFILE"):
                print(child.stderr[-12000:])
            run = json.loads(child.stdout.strip().splitlines()[-1])
            with urllib.request.urlopen(f"{stripe_url}/_fake/stats") as answer:
                stats = json.load(answer)
            with app.app_context():
                from rewards.ledger.check import check_ledger
                problems = check_ledger()
    finally:
        fake.terminate()
        fake.wait(10)
    rate = args.items / run["seconds"]
    cpu_ms = run["cpu"] * 1000 / args.items
    print(f"batch of {args.items} items, fake Stripe answering in {args.latency * 1000:.0f} ms, paced at "
          f"{args.rate:g}/s, {args.concurrency} in flight at most")
    print(f"  status {run['status']}: {run['counts']}; transfers made {stats['transfers']} in "
          f"{stats['groups']} groups; requests {stats['requests']}")
    print(f"  transfers/s        {rate:8.1f}   (target >= {TARGET_RATE})")
    print(f"  max requests in 1s {stats['max_requests_in_any_second']:8d}   (limit {LIMIT})")
    print(f"  executor CPU       {cpu_ms:8.2f} ms per transfer (target < {TARGET_CPU_MS}); of which the main thread "
          f"(claims, records: database) {run['main_cpu'] * 1000 / args.items:.2f}")
    print(f"                                of which in the Stripe calls (SDK, HTTP: its threads) "
          f"{run['in_calls'] * 1000 / args.items:.2f}")
    print(f"  draft              {drafted:8.1f} s for the batch ({drafted * 1000 / args.items:.2f} ms per item)")
    print(f"  ledger check       {'clean' if not problems else problems[:3]}")
    print("  load average       {:.2f} {:.2f} {:.2f} before, {:.2f} {:.2f} {:.2f} after (1, 5, 15 min)".format(
        *load_before, *os.getloadavg()))


if __name__ == "__main__":
    main()
