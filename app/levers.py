"""The measured performance levers of the gateway, in one value handed to create_app.

Each lever is passed to the constructor of the component that owns it, which acts on its
own argument: nothing here is global state, and nothing is patched. `Levers()` is every
lever on except the collector's, which changes the whole interpreter (tests share one);
`Levers.served()` is what the served app (`app.main:app`) runs with. bench/gateway_app.py
turns levers off one at a time to price them (bench/profiles/NOTE.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.verified import DEFAULT_SIZE as DEFAULT_VERIFIED_TOKENS
from app.gc_tuning import YOUNG_GENERATION_THRESHOLD


@dataclass(frozen=True, slots=True)
class Levers:
    # app/schema/executor.py's short path for plain fields (build_schema, through
    # GraphQLEndpoint); off: every field through graphql-core's executor.
    lean_executor: bool = True
    # app/schema/compiled/'s plan per known document (build_schema, through
    # GraphQLEndpoint); off: the short path above alone. Needs lean_executor.
    compiled_plans: bool = True
    # Within those plans, the guarded fields' rules (`Owned`, `FieldPolicy`) applied per
    # object straight from the plan (app/schema/compiled/guarded.py); off: through
    # Strawberry's resolver wrapper and Info, as before. Needs compiled_plans.
    compiled_guards: bool = True
    # Within those plans, plain scalar and enum fields serialised inline by the walk
    # (app/schema/compiled/plan.py's `Leaf`); off: each through its completer, with its
    # path built. Needs compiled_plans.
    leaf_steps: bool = True
    # An invoice page reads its invoices' customers, payments and refunds for the whole
    # page (ReadService, through build_context); off: each field loads its own.
    whole_page_children: bool = True
    # Downstream bodies parsed and validated in one pass by pydantic (Channel, through
    # open_resources); off: `json.loads`, then validation of the parsed value.
    one_pass_json: bool = True
    # Service clients' GETs straight onto aiohttp, without httpx's Request and Response
    # (app/downstream/direct.py, through build_http_client); off: through httpx's objects.
    direct_reads: bool = True
    # A call's first attempt outside tenacity, entered only after a transient failure
    # (app/downstream/retry.py, through Channel); off: every attempt inside it.
    lazy_retries: bool = True
    # Accepted tokens' claims kept per token, their signature not checked again
    # (app/auth/verified.py, through JwtVerifier); 0: every request's token checked.
    verified_tokens: int = DEFAULT_VERIFIED_TOKENS
    # Identical downstream GETs in flight at once, from concurrent requests, share one
    # exchange (app/downstream/coalesce.py, through Channel); off: each makes its own.
    single_flight: bool = True
    # The young-generation threshold app/gc_tuning.py sets once start-up is done (and
    # freezes what start-up built); None: the collector is left alone.
    gc_young_threshold: int | None = None

    @classmethod
    def served(cls) -> Levers:
        return cls(gc_young_threshold=YOUNG_GENERATION_THRESHOLD)
