"""Benchmarks, run by hand: `python -m bench.bulk`, `python -m bench.ingest_http` (see README.md)."""
