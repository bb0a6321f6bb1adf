"""Small helpers shared by the IDOR and the role/scope matrices.

`run` sends one GraphQL document and returns the whole answer; `Calls` reads (and clears)
the sandbox call logs of both services, so that each step of a test sees only the
downstream calls it caused; `RewritingTransport` plays a downstream service that links
one business's object to another's (or to nothing), which the sandbox never does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from tests.e2e.conftest import INVOICING_TOKEN, PAYMENTS_TOKEN, Downstreams, graphql

JSON = dict[str, Any]
SERVICES = ("invoicing", "payments")


@dataclass(frozen=True)
class Answer:
    status: int
    body: JSON


async def run(
    client: httpx.AsyncClient, document: str, token: str, variables: JSON | None = None
) -> Answer:
    response = await graphql(client, document, token, variables=variables)
    body: JSON = response.json()
    return Answer(response.status_code, body)


def at(document: str, needle: str, occurrence: int = 1) -> dict[str, int]:
    """The GraphQL `locations` entry of the `occurrence`-th `needle` in `document`."""
    index = -1
    for _ in range(occurrence):
        index = document.index(needle, index + 1)
    line = document.count("\n", 0, index) + 1
    column = index - (document.rfind("\n", 0, index) + 1) + 1
    return {"line": line, "column": column}


def error(code: str, message: str, path: list[str | int], location: dict[str, int]) -> JSON:
    return {"message": message, "locations": [location], "path": path, "extensions": {"code": code}}


NOT_FOUND_MESSAGE = "Not found."
FIELD_FORBIDDEN_MESSAGE = "Your role or token scope does not allow reading this field."


def not_found(path: list[str | int], location: dict[str, int]) -> JSON:
    return error("NOT_FOUND", NOT_FOUND_MESSAGE, path, location)


def by_path(errors: list[JSON]) -> list[JSON]:
    """Errors in a stable order: sibling fields resolve concurrently."""
    return sorted(errors, key=lambda e: json.dumps(e.get("path"), sort_keys=True))


@dataclass(frozen=True, order=True)
class Call:
    service: str
    method: str
    path: str
    query: str

    @property
    def shape(self) -> tuple[str, str, str, tuple[str, ...]]:
        """What a call costs regardless of which id it asks for: service, method, path
        and the names (not values) of its query parameters."""
        names = tuple(sorted(httpx.QueryParams(self.query).keys()))
        return (self.service, self.method, self.path, names)


class Calls:
    """The sandbox call logs of both services; `take` returns and clears them."""

    def __init__(self, downstreams: Downstreams) -> None:
        self._downstreams = downstreams

    async def take(self) -> list[Call]:
        calls: list[Call] = []
        for service in SERVICES:
            for entry in await self._downstreams.calls(service):
                calls.append(Call(service, entry["method"], entry["path"], entry["query"]))
            await self._clear(service)
        return calls

    async def _clear(self, service: str) -> None:
        app = self._downstreams.invoicing if service == "invoicing" else self._downstreams.payments
        token = INVOICING_TOKEN if service == "invoicing" else PAYMENTS_TOKEN
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://sandbox"
        ) as client:
            response = await client.delete(
                "/_sandbox/calls", headers={"Authorization": f"Bearer {token}"}
            )
        response.raise_for_status()


# (request path, request query parameters, decoded JSON body) -> body to answer with.
Rewrite = Callable[[str, dict[str, str], JSON], JSON]


def unchanged(path: str, params: dict[str, str], payload: JSON) -> JSON:
    return payload


class RewritingTransport(httpx.AsyncBaseTransport):
    """Forwards to a sandbox service and lets `rewrite` change its successful GET answers.

    `rewrite` is an attribute so one gateway can be switched between answers in a test.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, rewrite: Rewrite = unchanged) -> None:
        self._inner = inner
        self.rewrite = rewrite

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if request.method != "GET" or response.status_code != 200:
            return response
        payload: JSON = json.loads(await response.aread())
        params = dict(request.url.params)
        rewritten = self.rewrite(request.url.path, params, payload)
        return httpx.Response(
            200, json=rewritten, headers={"Content-Type": "application/json"}, request=request
        )

    async def aclose(self) -> None:
        await self._inner.aclose()
