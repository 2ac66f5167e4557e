"""Benchmarks: `python -m bench` starts the system and prints req/s, p50, p99 and memory.
`python -m bench.checkout` measures checkouts end to end, `python -m bench.events` the event bus,
`python -m bench.search` search at 100,000 products."""
