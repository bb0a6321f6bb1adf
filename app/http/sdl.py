"""`GET /graphql/schema.graphql`: the published SDL, for generating types and for tools.

What is served is `app/schema/schema.graphql` as packaged with the app: the file `python
-m app schema --write` records and the test suite holds equal to the code's schema. It is
the whole schema whoever asks (a partner token's introspection may show less; the
published contract does not change with the caller).

Decisions:
- **No token needed, in every environment.** The SDL is published to partners anyway
  (docs/partners.md, the repository they receive); it holds no data and nothing that
  depends on the caller. Production's rule that every `/graphql` request carries a valid
  token protects data and execution: introspection runs the schema (about 70 ms of CPU
  a time, cost 200), while this is the same precomputed bytes for everyone, cheaper than
  checking a token. Hiding "Did you mean ...?" suggestions in production keeps error
  answers terse; it never made the schema's names a secret.
- **Cheap to refresh.** A strong ETag (a digest of the bytes) and `Cache-Control: public,
  max-age=300`: a client may reuse its copy for five minutes, then revalidate with
  `If-None-Match` and get `304 Not Modified`, no body, until a deployment changes the
  schema.
- `text/plain; charset=utf-8`: there is no registered media type for SDL, and plain text
  is what browsers, curl and code generators all read. HEAD is answered like GET; any
  other method is 405, coded as the GraphQL endpoint codes its refusals.
"""

from __future__ import annotations

import hashlib
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.http.etags import none_match
from app.http.refusal import refusal

SDL_PATH = "/graphql/schema.graphql"
MEDIA_TYPE = "text/plain; charset=utf-8"
CACHE_CONTROL = "public, max-age=300"


def published_sdl() -> bytes:
    """The committed SDL, as packaged with the app (package data of app.schema)."""
    return files("app.schema").joinpath("schema.graphql").read_bytes()


def entity_tag(body: bytes) -> str:
    return '"sdl-' + hashlib.sha256(body).hexdigest()[:32] + '"'


class SchemaDocument:
    """The SDL's bytes and validator, computed once when the app is built."""

    def __init__(self, body: bytes | None = None) -> None:
        self.body = published_sdl() if body is None else body
        self.etag = entity_tag(self.body)

    async def endpoint(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return refusal(
                405, "METHOD_NOT_ALLOWED", "The schema is read with GET.", Allow="GET, HEAD"
            )
        headers = {"ETag": self.etag, "Cache-Control": CACHE_CONTROL}
        if none_match(request.headers.get("if-none-match"), self.etag):
            return Response(status_code=304, headers=headers)
        return Response(self.body, media_type=MEDIA_TYPE, headers=headers)


# Every method reaches the endpoint, so that the others get a coded 405, not Starlette's.
_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def sdl_route() -> Route:
    return Route(SDL_PATH, SchemaDocument().endpoint, methods=_METHODS)
