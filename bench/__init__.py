"""Benchmarks, run by hand (`python -m bench.<name>` or `make bench`); never part of the test suite."""
