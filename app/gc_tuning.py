"""Garbage collector settings for a serving process.

A GraphQL request allocates tens of thousands of short-lived objects; with CPython's
defaults the youngest generation is collected every 700 allocations and every full
collection walks everything start-up built (schema, models, modules). Measured with
`python -m bench.ab` on the dashboard query: freezing what start-up built and collecting
the youngest generation every 50,000 allocations cut the gateway's CPU per request by
about 30%, and `make bench-soak` checks that memory stays flat with it. Only the served
app (`app.main:app`, `Levers.served()` in app/levers.py) does this: it changes the whole
interpreter, which tests share.
"""

from __future__ import annotations

import gc

# The served app's threshold; the benchmark tries others (bench/gateway_app.py).
YOUNG_GENERATION_THRESHOLD = 50_000


def settle_after_startup(young_threshold: int) -> None:
    """Called once, when start-up is complete: what exists now lives as long as the
    process, so the collector stops scanning it; the youngest generation is collected
    every `young_threshold` allocations."""
    if young_threshold < 1:
        # 0 would turn automatic collection off altogether: not a tuning.
        raise ValueError("the young-generation threshold must be at least 1")
    gc.set_threshold(young_threshold, *gc.get_threshold()[1:])
    gc.collect()
    gc.freeze()
