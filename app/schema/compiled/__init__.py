"""Compiled execution for known documents: a plan per (document, operation) that walks
the loaded objects straight into the result dicts (graphql-jit's idea, for Python).

Hand-written because nothing like it exists for Python: graphql-core executes every
document field by field, deciding per value what to do (graphql-core #189 asks for
compiled queries; strawberry #3544 for a faster executor), and that bookkeeping was
about 21% of a dashboard request's CPU (bench/profiles/NOTE.md). An independent
profile measured a compiled-plan stand-in at execution 16.3 ms -> 5.2 ms, about -34% of
a whole request; `make bench-ab` with the `nocompiled` variant prices this one
(bench/profiles/NOTE.md has the figure).

Every document after its first parse (persisted, trusted and cached alike: the parse
cache hands the same node for the same text) gets a plan the first time it runs:
plan.py decides each field's reader, arguments and completer once; run.py walks it with
graphql-core's own error handling. What the compiler does not support runs on
graphql-core, counted by reason (reasons.py, `gateway_compiled_fallbacks`). Answers are
identical to graphql-core's, errors and their order included: tests/schema/compiled/
compares both executors on every known document, for several tokens, and on generated
documents with generated downstream data and failures.
"""

from app.schema.compiled.reasons import Fallback
from app.schema.compiled.run import CompiledExecutor, WrappedGuardsExecutor

__all__ = ["CompiledExecutor", "Fallback", "WrappedGuardsExecutor"]
