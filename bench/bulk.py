"""Bulk: 1,000,000 sales against 100,000 referrals on PostgreSQL: CSV import rows/s and peak memory,
re-validation time against one hand-written SQL statement doing the same matching.

Re-validation is timed from the start of `flask referrals revalidate` until it reports its work committed
(decisions, statuses, rewards, ledger, audit). The mail the grants start (one notification per reward) is a
Celery worker's job in production; without REDIS_URL, as here, the command then runs it itself, timed apart.

    python -m bench.bulk [--sales 1000000] [--referrals 100000]
"""
import argparse
import os
import random
import tempfile
import time
from datetime import datetime, timedelta, timezone

import psycopg

from bench.common import env_for, flask, measured, scratch_database

BASE = datetime(2026, 6, 1, tzinfo=timezone.utc)
REFERRERS = 20_000

# The baseline: the same join re-validation streams (pending referral x referrer x sale, matched on email,
# phone or the referrer's code, net of refunds), aggregated per referral to "bought before?" and "a sale in
# the window reaching the minimum". It reads only: no sentences, cards, first-referrer rule or writes,
# while re-validation also writes decisions, statuses, sale links, rewards, ledger legs and audit events.
HAND_SQL = """
WITH p AS (SELECT attribution_days, min_sale_amount FROM programs WHERE currency = 'usd' AND active
           ORDER BY effective_from DESC LIMIT 1),
m AS (SELECT r.id AS rid, r.created_at, s.id AS sid, s.occurred_at,
             s.amount - COALESCE((SELECT sum(f.amount) FROM refunds f WHERE f.sale_id = s.id), 0) AS net
      FROM referrals r JOIN customers c ON c.id = r.referrer_id
      JOIN sales s ON (s.email = r.referee_email OR (r.referee_phone IS NOT NULL AND s.phone = r.referee_phone)
                       OR s.referral_code = c.referral_code)
      WHERE r.status = 'pending')
SELECT rid, bool_or(occurred_at < created_at) AS not_new,
       min(sid) FILTER (WHERE occurred_at BETWEEN created_at AND created_at + (SELECT attribution_days FROM p)
                        * interval '1 day' AND net >= (SELECT min_sale_amount FROM p)) AS proving
FROM m GROUP BY rid
"""


def seed(url: str, referrals: int) -> None:
    """Referrers, their referrals (5 % of buyers referred twice) and one program, by COPY."""
    rng = random.Random(7)
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        # A second-referral tier and a yearly cap, so granting walks the same rules a real program has.
        cur.execute("INSERT INTO programs (name, currency, version, reward_type, amount, min_sale_amount,"
                    " attribution_days, hold_days, yearly_cap_amount, effective_from, active, created_at)"
                    " VALUES ('Bench', 'usd', 1, 'flat', 1000, 2000, 30, 14, 2500, %s, true, %s) RETURNING id",
                    (BASE - timedelta(days=400), BASE))
        cur.execute("INSERT INTO program_tiers (program_id, from_referral, amount) VALUES (%s, 2, 1500)",
                    cur.fetchone())
        with cur.copy("COPY customers (email, name, referral_code, created_at) FROM STDIN") as copy:
            for i in range(REFERRERS):
                copy.write_row((f"ref{i}@example.com", f"Referrer {i}", f"code{i:08d}", BASE - timedelta(days=300)))
        cur.execute("SELECT min(id) FROM customers")
        first = cur.fetchone()[0]
        with cur.copy("COPY referrals (referrer_id, referee_email, referee_name, status, source, created_at,"
                      " updated_at) FROM STDIN") as copy:
            for i in range(referrals):
                buyer = i if i < referrals * 95 // 100 else i - referrals * 95 // 100
                when = BASE - timedelta(days=10, seconds=rng.randrange(86400 * 5))
                copy.write_row((first + i % REFERRERS, f"buyer{buyer}@example.com", "Bench Buyer", "pending",
                                "api", when, when))
        cur.execute("ANALYZE")


def write_csv(path: str, sales: int, referrals: int) -> None:
    """30 % of referred buyers buy (a tenth of them too little, 2 % bought before); the rest are strangers."""
    buyers = referrals * 30 // 100
    with open(path, "w") as out:
        out.write("external_id,email,amount,currency,occurred_at,referral_code,phone\n")
        lines = []
        for i in range(sales):
            if i < buyers:
                email, amount = f"buyer{i}@example.com", 1500 if i % 10 == 0 else 5000
                when = BASE - timedelta(days=40 if i % 50 == 1 else 3, seconds=i % 86400)
            else:
                email, amount, when = f"stranger{i}@example.com", 1000 + i % 9000, BASE - timedelta(seconds=i)
            lines.append(f"s{i:09d},{email},{amount},usd,{when.isoformat()},,\n")
            if len(lines) == 50_000:
                out.write("".join(lines))
                lines = []
        out.write("".join(lines))


def hand_sql(url: str) -> tuple[float, float, int]:
    """(first run's seconds, best of three, rows). The first run reads a cold cache after the import; the ratio
    uses the best, as re-validation itself runs on the warm cache the hand SQL leaves."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        times = []
        for _ in range(3):
            started = time.perf_counter()
            cur.execute(HAND_SQL)
            rows = cur.fetchall()
            times.append(time.perf_counter() - started)
        return times[0], min(times), len(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sales", type=int, default=1_000_000)
    parser.add_argument("--referrals", type=int, default=100_000)
    args = parser.parse_args()
    with scratch_database("bench_sales_bulk") as url, tempfile.TemporaryDirectory() as tmp:
        env = env_for(url)
        measured(flask("db", "upgrade", "heads"), env)
        seed(url, args.referrals)
        path = os.path.join(tmp, "sales.csv")
        write_csv(path, args.sales, args.referrals)
        size = os.path.getsize(path) / 1024**2
        seconds, peak, output = measured(flask("sales", "import", path, "--no-revalidate"), env)
        print(f"CSV import: {args.sales:,} rows ({size:.0f} MB) in {seconds:.1f}s = {args.sales / seconds:,.0f} rows/s, "
              f"peak memory {peak} MB")
        print("  " + output.strip().splitlines()[-1])
        cold, hand_seconds, matched = hand_sql(url)
        print(f"Hand-written matching SQL: {hand_seconds:.2f}s, best of three (first run {cold:.2f}s, cold cache; "
              f"{matched:,} referrals with a matching sale)")
        marks = {"Weighed in": None}
        seconds, peak, output = measured(flask("referrals", "revalidate"), {**env, "MAIL_OUTBOX_DIR": tmp}, marks)
        weighed = marks["Weighed in"] or seconds
        print(f"Re-validation (CLI, from start until it reports the work committed): {weighed:.1f}s, "
              f"{weighed / hand_seconds:.1f}x the hand-written SQL")
        for line in output.strip().splitlines()[-3:]:
            print("  " + line.split("\r")[-1])
        print(f"Whole process, notification mail included: {seconds:.1f}s, peak memory {peak} MB")


if __name__ == "__main__":
    main()
