"""payouts.csv over HTTP from PostgreSQL vs `COPY (SELECT …) TO STDOUT` of the same rows, in the same run.

    python -m bench.finance_export [--rows 1000000] [--reversals 10000] [--keep | --reuse]

Loads `rows` payout rows (settled items plus transfer reversals, which payouts.csv shows as rows of their own)
into a scratch database, serves the app with gunicorn (one sync worker, so its memory is the export's), streams
GET /api/v1/reports/payouts.csv for the whole year and counts the rows as they arrive, then runs COPY … (FORMAT csv)
of the same rows' columns in the same order (the export's own rows, compiled from
rewards.reports.exports.payout_rows), so PostgreSQL writes the CSV itself. Prints rows/s of both, their ratio
(target ≥ 25 %) and the worker's peak resident memory during the export (target < 150 MB), sampled every 20 ms
and by VmHWM (reset when the export starts; the peak of the worker's start is printed apart).
"""
import argparse
import http.client
import os
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date

import psycopg

from bench.common import BIN, PG_ADMIN, ROOT, env_for, flask, measured, scratch_database

FIRST, LAST = date(2025, 1, 1), date(2025, 12, 31)
DATABASE = "bench_finance_export"
KEY_FILE = os.path.join(tempfile.gettempdir(), "bench_finance_export.key")
PORT = 8791
CUSTOMERS = 20000
PER_BATCH = 1000


def load(url: str, items: int, reversals: int) -> None:
    """Customers, batches and settled payout items spread over 2025 (a tenth manual), some reversed."""
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn:
        conn.execute("INSERT INTO customers (email, name, referral_code, created_at) SELECT 'referrer' || i || "
                     "'@example.com', 'Referrer ' || i, 'code' || i, now() FROM generate_series(1, %s) i",
                     (CUSTOMERS,))
        batches = (items + PER_BATCH - 1) // PER_BATCH
        conn.execute("INSERT INTO payout_batches (currency, status, minimum_amount, total, skipped, created_at) "
                     "SELECT 'usd', 'paid', 1000, 0, '[]', '2025-01-01Z'::timestamptz + (i || ' hours')::interval "
                     "FROM generate_series(1, %s) i", (batches,))
        conn.execute("""
            INSERT INTO payout_items (batch_id, customer_id, currency, amount, status, method, destination,
                transfer_group, stripe_transfer_id, attempt_generation, attempt_state, attempts, reversed_amount,
                reference, paid_at, created_at, updated_at)
            SELECT b.min_id + i / %(per)s, c.min_id + (i %% %(per)s) + ((i / %(per)s) %% 20) * %(per)s,
                   'usd', 1000 + (i * 37) %% 50000, 'paid', CASE WHEN i %% 10 = 0 THEN 'manual' ELSE 'stripe' END,
                   'acct_' || (i %% %(per)s), 'refero-payout-' || i,
                   CASE WHEN i %% 10 = 0 THEN NULL ELSE 'tr_' || md5(i::text) END, 1, 'sent', 1, 0,
                   CASE WHEN i %% 10 = 0 THEN 'bank ' || i END,
                   '2025-01-01Z'::timestamptz + (i::float / %(n)s * 364 || ' days')::interval, now(), now()
            FROM generate_series(0, %(n)s - 1) i,
                 (SELECT min(id) AS min_id FROM payout_batches) b, (SELECT min(id) AS min_id FROM customers) c
            """, {"per": PER_BATCH, "n": items})
        conn.execute("""
            INSERT INTO payout_reversals (item_id, stripe_transfer_id, reversed_to, amount, reversed_at, created_at)
            SELECT id, stripe_transfer_id, 500, 500, paid_at + interval '3 days', paid_at + interval '3 days'
            FROM payout_items
            WHERE stripe_transfer_id IS NOT NULL AND paid_at < '2025-12-20Z' ORDER BY id LIMIT %s""", (reversals,))
        conn.execute("ANALYZE")


@contextmanager
def kept_database(name: str):
    yield f"postgresql+psycopg://{PG_ADMIN.split('://', 1)[1]}/{name}"


def finance_key(env: dict) -> str:
    subprocess.run(flask("users", "create", "--email", "finance@example.com", "--role", "finance"), cwd=ROOT,
                   env=env, input="bench-password-123\nbench-password-123\n", text=True, check=True,
                   capture_output=True)
    return subprocess.run(flask("api-keys", "create", "--email", "finance@example.com"), cwd=ROOT, env=env,
                          text=True, check=True, capture_output=True).stdout.strip().splitlines()[-1]


def export_sql(env: dict) -> str:
    """SELECT of payouts.csv's columns from the rows the export reads, in the file's order, parameters inlined."""
    code = ("from datetime import date\nfrom rewards import create_app\nfrom rewards.extensions import db\n"
            "from rewards.reports.exports import PAYOUTS_HEADER, PAYOUTS_ORDER, payout_rows\n"
            "app = create_app()\nwith app.app_context():\n"
            f"    rows = payout_rows(date.fromisoformat('{FIRST}'), date.fromisoformat('{LAST}'))\n"
            "    stmt = db.select(*(rows.c[name] for name in PAYOUTS_HEADER)).order_by("
            "*(rows.c[name] for name in PAYOUTS_ORDER))\n"
            "    print(stmt.compile(db.engine, compile_kwargs={'literal_binds': True}))\n")
    return subprocess.run([os.path.join(BIN, "python"), "-c", code], cwd=ROOT, env=env, text=True, check=True,
                          capture_output=True).stdout


def worker_pid(master: int) -> int:
    for _ in range(100):
        with open(f"/proc/{master}/task/{master}/children") as handle:
            children = handle.read().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("gunicorn started no worker")


def memory_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def stream(key: str, query: str) -> tuple[int, int, float]:
    """(rows, bytes, seconds) of one streamed download, rows counted as the bytes arrive."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=600)
    conn.request("GET", f"/api/v1/reports/payouts.csv?{query}", headers={"Authorization": f"Bearer {key}"})
    response = conn.getresponse()
    if response.status != 200:
        raise SystemExit(f"export answered {response.status}: {response.read()[:500]!r}")
    lines = size = 0
    while chunk := response.read(1 << 20):
        lines += chunk.count(b"\n")
        size += len(chunk)
    conn.close()
    return lines - 1, size, time.perf_counter() - started


def copy(url: str, sql: str) -> tuple[int, int, float]:
    started = time.perf_counter()
    lines = size = 0
    with psycopg.connect(url.replace("postgresql+psycopg", "postgresql")) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER)") as out:
            for data in out:
                lines += bytes(data).count(b"\n")
                size += len(data)
    return lines - 1, size, time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="payout rows in the export (items + reversals)")
    parser.add_argument("--reversals", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="keep the database for --reuse")
    parser.add_argument("--reuse", action="store_true", help="measure a database kept by --keep again")
    args = parser.parse_args()
    if args.keep:
        os.environ["BENCH_KEEP"] = "1"
    with (kept_database(DATABASE) if args.reuse else scratch_database(DATABASE)) as url:
        env = env_for(url)
        if not args.reuse:
            measured(flask("db", "upgrade", "heads"), env)
            started = time.perf_counter()
            load(url, args.rows - args.reversals, args.reversals)
            print(f"loaded {args.rows:,} payout rows in {time.perf_counter() - started:.1f} s", flush=True)
            key = finance_key(env)
            with open(KEY_FILE, "w") as handle:
                handle.write(key)
        else:
            with open(KEY_FILE) as handle:
                key = handle.read().strip()
        sql = export_sql(env)
        server = subprocess.Popen([os.path.join(BIN, "gunicorn"), "-w", "1", "--timeout", "600", "-b",
                                   f"127.0.0.1:{PORT}", "wsgi:app"], cwd=ROOT, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            worker = worker_pid(server.pid)
            for _ in range(100):
                try:
                    stream(key, "from=2025-01-01&to=2025-01-01")  # warm up: modules, connections, caches
                    break
                except (ConnectionRefusedError, OSError):
                    time.sleep(0.2)
            before, boot_hwm = memory_kb(worker, "VmRSS"), memory_kb(worker, "VmHWM")
            # The worker's high-water mark so far is its start (argon2 hashes a dummy password with its 64 MiB at
            # import, rewards.accounts.service): reset it to now, so VmHWM is the export's own peak.
            with open(f"/proc/{worker}/clear_refs", "w") as handle:
                handle.write("5")
            peak = [before]
            done = threading.Event()

            def sample():
                while not done.is_set():
                    peak[0] = max(peak[0], memory_kb(worker, "VmRSS"))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            http_rows, http_bytes, http_seconds = stream(key, f"from={FIRST}&to={LAST}")
            done.set()
            sampler.join()
            hwm = memory_kb(worker, "VmHWM")
        finally:
            server.terminate()
            server.wait(30)
        copy_rows, copy_bytes, copy_seconds = copy(url, sql)
    assert http_rows == copy_rows == args.rows, (http_rows, copy_rows, args.rows)
    http_rate, copy_rate = http_rows / http_seconds, copy_rows / copy_seconds
    print(f"payouts.csv over HTTP: {http_rows:,} rows, {http_bytes / 1e6:.0f} MB in {http_seconds:.2f} s = "
          f"{http_rate:,.0f} rows/s")
    print(f"COPY (SELECT …) TO STDOUT: {copy_rows:,} rows, {copy_bytes / 1e6:.0f} MB in {copy_seconds:.2f} s = "
          f"{copy_rate:,.0f} rows/s")
    print(f"ratio: {http_rate / copy_rate:.0%} of COPY's rate (target ≥ 25 %)")
    print(f"server worker memory: {before / 1024:.0f} MB before, peak during the export {peak[0] / 1024:.0f} MB "
          f"sampled, VmHWM {hwm / 1024:.0f} MB (target < 150 MB); VmHWM from the worker's start to the export "
          f"{boot_hwm / 1024:.0f} MB")


if __name__ == "__main__":
    main()
