"""Chaos under load: the production topology on this machine (devstack/topology.py)
takes a steady mixed workload — reads, bookings, deposit payments with idempotency keys — while,
in turn, each fault of a real deployment happens to it. After each fault: requests sent, failed,
5xx, p99, and an audit on the primary (every acknowledged booking and payment exists exactly
once, no slot is overbooked, every payment matches its booking).

    python -m bench.chaos [--short] [--out DIR]      (make chaos; tests/e2e/test_chaos.py: --short)

Writes ``chaos.md`` and ``chaos.json`` to ``bench/results/<timestamp>/`` (or ``--out``). Load
goes to 127.0.0.1 only (from 127.0.0.3, which the stack's nginx exempts from its rate limit);
every loop is bounded in count and time. Exit status 1 when the audit or the failure budget
fails ("failed": no answer or a 5xx; during the primary's outage only writes may fail, and only
with 503 + Retry-After).
"""
