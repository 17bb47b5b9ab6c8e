"""Benchmarks: `bench/run.py` (the layered harness) and `bench/throughput.py` (raw vs worker)."""
