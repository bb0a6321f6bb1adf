"""GET /graphql/schema.graphql serves the published SDL to anyone, in production too, as
plain UTF-8 text with a validator: an unchanged schema is a 304 without a body."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from app.http.sdl import SDL_PATH, SchemaDocument, entity_tag
from app.main import create_app
from app.schema.versioning import SCHEMA_FILE, current_sdl
from tests.e2e.conftest import gateway_settings
from tests.paths import REPO_ROOT

COMMITTED = (REPO_ROOT / SCHEMA_FILE).read_bytes()
ETAG = entity_tag(COMMITTED)


@pytest.fixture
async def production(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    # Nothing the route needs is opened by the lifespan: no database, token or service.
    app = create_app(gateway_settings(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client


async def test_anyone_gets_the_committed_sdl_in_production(
    production: httpx.AsyncClient,
) -> None:
    response = await production.get(SDL_PATH, headers={"Accept-Encoding": "identity"})

    assert response.status_code == 200
    assert response.content == COMMITTED
    assert response.text == current_sdl()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["etag"] == ETAG
    assert response.headers["cache-control"] == "public, max-age=300"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert (
        response.headers["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


async def test_a_token_changes_nothing_not_even_a_bad_one(production: httpx.AsyncClient) -> None:
    response = await production.get(SDL_PATH, headers={"Authorization": "Bearer not-a-token"})

    assert response.status_code == 200
    assert response.content == COMMITTED


@pytest.mark.parametrize(
    "if_none_match",
    [ETAG, f"W/{ETAG}", f'"sdl-other", {ETAG}', "*"],
)
async def test_an_unchanged_schema_is_not_modified(
    production: httpx.AsyncClient, if_none_match: str
) -> None:
    response = await production.get(SDL_PATH, headers={"If-None-Match": if_none_match})

    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == ETAG
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_an_older_copy_gets_the_schema_again(production: httpx.AsyncClient) -> None:
    response = await production.get(SDL_PATH, headers={"If-None-Match": '"sdl-0123"'})

    assert response.status_code == 200
    assert response.content == COMMITTED


async def test_head_answers_the_headers_without_the_body(production: httpx.AsyncClient) -> None:
    response = await production.head(SDL_PATH, headers={"Accept-Encoding": "identity"})

    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["etag"] == ETAG
    assert response.headers["content-length"] == str(len(COMMITTED))


async def test_a_compressed_copy_carries_a_weak_tag_that_still_revalidates(
    production: httpx.AsyncClient,
) -> None:
    compressed = await production.get(SDL_PATH, headers={"Accept-Encoding": "gzip"})
    again = await production.get(
        SDL_PATH,
        headers={"Accept-Encoding": "gzip", "If-None-Match": compressed.headers["etag"]},
    )

    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == COMMITTED
    assert compressed.headers["etag"] == f"W/{ETAG}"
    assert again.status_code == 304


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_other_methods_are_refused_with_a_code(
    production: httpx.AsyncClient, method: str
) -> None:
    response = await production.request(method, SDL_PATH, content=b"{}")

    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert response.json() == {
        "errors": [
            {
                "message": "The schema is read with GET.",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }


def test_the_tag_follows_the_bytes() -> None:
    assert SchemaDocument().etag == ETAG
    assert SchemaDocument(COMMITTED).etag == ETAG
    assert SchemaDocument(COMMITTED + b"\n").etag != ETAG
    assert SchemaDocument(b"type Query { a: Int }\n").etag != ETAG
