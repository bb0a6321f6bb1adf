"""Persisted queries by GET, for clients on slow networks: a URL that names a document by
its hash, an ETag, and a 304 when the answer has not changed.

    GET /graphql?extensions={"persistedQuery":{"version":1,"sha256Hash":"<hex>"}}
        &operationName=Dashboard&variables={"id":"biz_..."}

Apollo's GET form of persisted queries. Only a hash travels in the URL, never a document:
a document in `query` is still refused with 405, so no ad-hoc operation runs from a URL
that logs, caches and links keep. Only queries run: a persisted mutation or subscription
by GET is refused with 405 before it is validated, so no key is consumed and nothing is
sent (the GraphQL-over-HTTP specification's rule for GET). Authentication, rate limits
and persisted-query rules are exactly those of POST (app/http/admission.py).

Caching: the answer is per caller, so `Cache-Control: private, no-cache` (a browser or
app may keep it, a shared cache may not, and it is revalidated before every use) and
`Vary: Authorization`. Its ETag is weak (`W/"..."`): it names the JSON answer's meaning,
which a compressed and an identity representation share. `If-None-Match` with the same
tag gets a 304 without a body. The answer is still worked out to compare it: a 304 saves
the network, not the gateway; an answer with errors gets no ETag and no 304, so a
failure is never confirmed as fresh.
"""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response
from strawberry.http import GraphQLRequestData

from app.http.etags import none_match
from app.http.refusal import Refused

CACHE_CONTROL = "private, no-cache"


def wanted(request: Request) -> bool:
    """A GET that names a persisted document (and sends none of its own)."""
    params = request.query_params
    return request.method == "GET" and "extensions" in params and "query" not in params


def read(request: Request) -> GraphQLRequestData:
    """The request's GraphQL parameters from its URL, or Refused (400)."""
    params = request.query_params
    extensions = _json_object(params.get("extensions"), "extensions")
    variables = _json_object(params.get("variables"), "variables")
    return GraphQLRequestData(
        query=None,
        variables=variables,
        operation_name=params.get("operationName") or None,
        extensions=extensions,
        protocol="http",
    )


def _json_object(raw: str | None, name: str) -> dict[str, object] | None:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused(400, f"`{name}` is not valid JSON.", "BAD_REQUEST") from None
    if value is None:
        return None
    if not isinstance(value, dict):
        raise Refused(400, f"`{name}` must be an object or null.", "BAD_REQUEST")
    return value


def etag_of(body: bytes) -> str:
    return f'W/"{hashlib.sha256(body).hexdigest()[:40]}"'


def conditional(request: Request, response: Response) -> Response:
    """`response` labelled for a private cache, or a 304 when the client has it already."""
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers.add_vary_header("Authorization")
    body = bytes(response.body)
    if response.status_code != 200 or _has_errors(body):
        return response
    etag = etag_of(body)
    response.headers["ETag"] = etag
    if not none_match(request.headers.get("if-none-match"), etag):
        return response
    headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_ON_304}
    return Response(status_code=304, headers=headers)


# What a 304 repeats of the 200 it stands for (RFC 9110 15.4.5), and the budget headers.
_KEPT_ON_304 = frozenset(
    {"cache-control", "etag", "vary", "ratelimit", "ratelimit-policy", "request-cost"}
)


def _has_errors(body: bytes) -> bool:
    try:
        answer = json.loads(body)
    except ValueError:
        return True
    return not isinstance(answer, dict) or bool(answer.get("errors"))
