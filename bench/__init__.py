"""Benchmarks: `python -m bench` starts the system and prints req/s, p50, p99 and memory."""
