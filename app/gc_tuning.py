"""Garbage collector settings for a serving process.

A GraphQL request allocates tens of thousands of short-lived objects; with CPython's
defaults the youngest generation is collected every 700 allocations and every full
collection walks everything start-up built (schema, models, modules). Measured with
`python -m bench.ab` on the dashboard query: freezing what start-up built and collecting
the youngest generation every 50,000 allocations cut the gateway's CPU per request by
about 30%, and `make bench-soak` checks that memory stays flat with it. Only the served
app (`app.main:app`) does this: it changes the whole interpreter, which tests share.
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 50_000


def settle_after_startup() -> None:
    """Called once, when start-up is complete: what exists now lives as long as the
    process, so the collector stops scanning it."""
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
    gc.collect()
    gc.freeze()
