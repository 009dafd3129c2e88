"""Shared pieces of the benchmarks: a PostgreSQL database of their own, measured child processes."""
import os
import subprocess
import sys
import time
from contextlib import contextmanager

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PG_ADMIN = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
PYTHON = sys.executable
BIN = os.path.dirname(PYTHON)


def run_sql(sql: str, database: str = "postgres") -> None:
    subprocess.run(["psql", f"{PG_ADMIN}/{database}", "-qc", sql], check=True, capture_output=True)


@contextmanager
def scratch_database(name: str):
    """A fresh database for one benchmark run, dropped afterwards (BENCH_KEEP=1 keeps it)."""
    run_sql(f"DROP DATABASE IF EXISTS {name}")
    run_sql(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg://{PG_ADMIN.split('://', 1)[1]}/{name}"
    finally:
        if not os.environ.get("BENCH_KEEP"):
            run_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def env_for(database_url: str) -> dict:
    return {**os.environ, "DATABASE_URL": database_url, "FLASK_DEBUG": "0", "SECRET_KEY": "bench-only-secret",
            "PYTHONPATH": ROOT}


def measured(args: list, env: dict, marks: dict | None = None) -> tuple[float, int, str]:
    """Run a command: (seconds, peak resident memory in MB of that process, its standard output).

    `marks`: {text: None}, filled with the seconds from the start to the first output line holding that text.
    """
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=ROOT, env={**env, "PYTHONUNBUFFERED": "1"}, stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    lines = []
    for line in process.stdout:
        lines.append(line)
        for text in marks or ():
            if marks[text] is None and text in line:
                marks[text] = time.perf_counter() - started
    output = "".join(lines)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({process.returncode}):\n{output}")
    return seconds, usage.ru_maxrss // 1024, output


def flask(*args) -> list:
    return [os.path.join(BIN, "flask"), "--app", "wsgi", *args]
