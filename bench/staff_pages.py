"""The dashboard, the filtered referral pipeline and the staff searches at 1,000,000 referrals on PostgreSQL: server time p50/p95.

    python -m bench.staff_pages [--referrals 1000000] [--requests 50] [--keep | --reuse]

Uses a database of its own (BENCH_DATABASE_URL, default bench_board on 127.0.0.1), created, migrated, filled with
generate_series and dropped at the end (unless --keep; --reuse measures a kept one again, migrated to the heads). Times each request through the Flask test client, so the
figure is the server's: queries plus template rendering, without the network.
"""
import argparse
import os
import statistics
import time
from datetime import timedelta

import flask_migrate
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from config import TestingConfig
from rewards import create_app
from rewards.clock import utcnow
from rewards.extensions import db

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/bench_board"
MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(__file__)), "migrations")
TARGET_MS = 150
CUSTOMERS = 50_000
FIRST = "ARRAY['Alex','Blair','Casey','Devon','Emery','Frankie','Gray','Harper','Indy','Jules','Kai','Logan']"
LAST = "ARRAY['Ito','Novak','Okafor','Silva','Berg','Kowalski','Haddad','Moreau','Larsen','Tanaka','Adeyemi']"


def _admin_engine(url):
    return sa.create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def create_database(url):
    name = make_url(url).database
    with _admin_engine(url).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))


def drop_database(url):
    with _admin_engine(url).connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))


def load(referrals: int):
    """Customers, referrals (skewed referrers, 2 years of dates), and a sale and reward for half the qualified.

    Referrals are inserted in time order, as a live table fills, so a period's rows sit together on disk.
    """
    statements = [
        f"""INSERT INTO customers (id, email, name, referral_code, created_at)
            SELECT g, 'customer' || g || '@example.com',
                   ({FIRST})[1 + g % 12] || ' ' || ({LAST})[1 + (g / 12) % 11], 'code' || g,
                   now() - (g % 730) * interval '1 day'
            FROM generate_series(1, {CUSTOMERS}) g""",
        "SELECT setval(pg_get_serial_sequence('customers', 'id'), (SELECT max(id) FROM customers))",
        f"""INSERT INTO referrals (referrer_id, referee_email, referee_name, status, source, created_at, updated_at)
            SELECT 1 + floor({CUSTOMERS} * power(x.r1, 3))::int, 'referee' || g || '@example.org',
                   ({FIRST})[1 + (g * 7) % 12] || ' ' || ({LAST})[1 + (g * 13) % 11],
                   CASE WHEN x.r2 < 0.55 THEN 'pending' WHEN x.r2 < 0.75 THEN 'qualified'
                        WHEN x.r2 < 0.80 THEN 'review' WHEN x.r2 < 0.90 THEN 'rejected' ELSE 'expired' END,
                   (ARRAY['portal','link','link','api','admin'])[1 + g % 5],
                   now() - (1 - g::float / {referrals}) * interval '730 days' - x.r3 * interval '1 hour', now()
            FROM generate_series(1, {referrals}) g,
                 LATERAL (SELECT random() + 0 * g AS r1, random() + 0 * g AS r2, random() + 0 * g AS r3) x""",
        """INSERT INTO programs (name, currency, reward_type, amount, min_sale_amount, attribution_days, hold_days,
                                 effective_from, active, created_at, version)
           VALUES ('Standard', 'usd', 'flat', 2500, 0, 30, 14, now() - interval '3 years', true, now(), 1)""",
        """INSERT INTO sales (external_id, email, amount, currency, occurred_at, source, referral_id, created_at)
           SELECT 'sale-' || id, referee_email, 10000, 'usd', created_at + interval '3 days', 'api', id, now()
           FROM referrals WHERE status = 'qualified' AND id % 2 = 0""",
        """INSERT INTO rewards (referral_id, referrer_id, sale_id, program_id, amount, granted_amount, currency, status,
                                payable_at, created_at)
           SELECT s.referral_id, r.referrer_id, s.id, (SELECT min(id) FROM programs), 2500, 2500, 'usd',
                  CASE WHEN s.id % 3 = 0 THEN 'paid' ELSE 'held' END, s.occurred_at + interval '14 days', now()
           FROM sales s JOIN referrals r ON r.id = s.referral_id""",
        """INSERT INTO users (email, name, role, password_hash, session_token, is_disabled, created_at)
           VALUES ('bench@example.com', 'Bench Coordinator', 'coordinator', 'x', 'bench-token', false, now())""",
    ]
    for statement in statements:
        db.session.execute(sa.text(statement))
    db.session.commit()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


def measure(client, path, requests):
    for _ in range(3):  # warm the caches and the connection pool
        assert client.get(path).status_code == 200, path
    times = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, path
    times.sort()
    return statistics.median(times), times[max(0, int(round(0.95 * len(times))) - 1)]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--referrals", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a database kept by an earlier run; keep it")
    args = parser.parse_args(argv)
    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not args.reuse:
        create_database(url)
    config = type("BenchConfig", (TestingConfig,), {"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
    app = create_app(config)
    try:
        with app.app_context():
            flask_migrate.upgrade(directory=MIGRATIONS, revision="heads")
            if not args.reuse:
                started = time.perf_counter()
                load(args.referrals)
                print(f"loaded {args.referrals:,} referrals in {time.perf_counter() - started:.0f} s")
        run(app, args.requests)
    finally:
        with app.app_context():
            db.engine.dispose()
        if not (args.keep or args.reuse):
            drop_database(url)


def run(app, requests):
    client = app.test_client()
    with client.session_transaction() as session:  # logged in as the bench coordinator (id from the load)
        with app.app_context():
            user_id = db.session.scalar(sa.text("SELECT id FROM users WHERE email = 'bench@example.com'"))
        session["_user_id"], session["_fresh"] = f"{user_id}:bench-token", True
    today = utcnow().date()
    since = (today - timedelta(days=90)).isoformat()
    pages = [
        ("dashboard, last 30 days", "/admin"),
        ("pipeline: qualified, link, last 90 days", f"/admin/referrals?status=qualified&source=link"
                                                    f"&date_from={since}&date_to={today.isoformat()}"),
        ("pipeline: unfiltered, newest first", "/admin/referrals"),
        ("pipeline: search 'harper' (1 in 12 match)", "/admin/referrals?q=harper"),
        ("pipeline: search 'harper', sorted by name", "/admin/referrals?q=harper&sort=name"),
        ("pipeline: search surname 'novak' (1 in 11)", "/admin/referrals?q=novak"),
        ("pipeline: search mid-email 'ee123456@'", "/admin/referrals?q=ee123456%40"),
        ("pipeline: search mid-email 'ee98765'", "/admin/referrals?q=ee98765"),
        ("customers: search surname 'tanaka'", "/admin/customers?q=tanaka"),
        ("customers: search mid-email 'omer4242'", "/admin/customers?q=omer4242"),
        ("pipeline: review, page 20", "/admin/referrals?status=review&page=20"),
        ("dashboard, last 12 months", "/admin?days=365"),
    ]
    print(f"{'page':48} {'p50 ms':>8} {'p95 ms':>8}  (over {requests} requests; target p95 < {TARGET_MS} ms)")
    for label, path in pages:
        p50, p95 = measure(client, path, requests)
        mark = "" if p95 < TARGET_MS else "  over target"
        print(f"{label:48} {p50:8.1f} {p95:8.1f}{mark}")


if __name__ == "__main__":
    main()
