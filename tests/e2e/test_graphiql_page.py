"""GraphiQL is self-hosted: the page loads nothing from another origin, runs under a
strict Content-Security-Policy, is served only where the settings allow it, and carries
a demo token in development only."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import tomllib
from fnmatch import fnmatch
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from app.auth.principal import Role
from app.http.graphiql.examples import DASHBOARD_QUERY
from app.http.graphiql.site import CONTENT_SECURITY_POLICY, GraphiQLSite, load_assets
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import GatewayFactory, TokenFactory, graphql

HTML = {"Accept": "text/html"}
STATIC = Path(__file__).parents[2] / "app" / "http" / "graphiql" / "static"


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.config: str | None = None
        self._in_config = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            if values.get(name):
                self.urls.append(str(values[name]))
        self._in_config = tag == "script" and values.get("id") == "graphiql-config"

    def handle_data(self, data: str) -> None:
        if self._in_config:
            self.config = (self.config or "") + data

    def handle_endtag(self, tag: str) -> None:
        self._in_config = False


def references(page: str) -> _References:
    parser = _References()
    parser.feed(page)
    return parser


def config_of(page: str) -> dict[str, Any]:
    found = references(page).config
    assert found is not None
    config: dict[str, Any] = json.loads(found)
    return config


async def test_production_serves_no_graphiql_page_and_no_assets(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory()
    asset = next(iter(load_assets().values()))

    page = await gateway.get("/graphql", headers=HTML)
    served = await gateway.get(asset.url)

    assert (page.status_code, served.status_code) == (404, 404)


async def test_development_page_loads_only_same_origin_assets_under_a_strict_policy(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(app_env="development")

    response = await gateway.get("/graphql", headers=HTML)

    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["referrer-policy"] == "no-referrer"
    urls = references(response.text).urls
    assert urls == ["data:,"] + [
        load_assets()[name].url
        for name in (
            "graphiql.min.css",
            "page.css",
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphiql.min.js",
            "init.js",
        )
    ]
    # No inline script that the policy would have to allow: only the inert JSON block.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", response.text) == [
        '<script type="application/json" id="graphiql-config">'
    ]


def test_the_policy_allows_this_origin_only() -> None:
    parts = (part.partition(" ") for part in CONTENT_SECURITY_POLICY.split("; "))
    directives = {name: sources for name, _, sources in parts}

    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    for sources in directives.values():
        assert "http" not in sources
        assert "*" not in sources
        assert "unsafe" not in sources


async def test_every_asset_is_served_with_its_type_and_cached_for_good(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(app_env="development")

    for asset in load_assets().values():
        response = await gateway.get(asset.url, headers={"Accept-Encoding": "identity"})

        assert response.status_code == 200, asset.name
        assert response.content == (STATIC / asset.name).read_bytes()
        kind = "text/css" if asset.name.endswith(".css") else "text/javascript"
        assert response.headers["content-type"] == f"{kind}; charset=utf-8"
        assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert asset.digest == hashlib.sha256(response.content).hexdigest()[:16]


async def test_assets_are_compressed_and_revalidated(gateway_factory: GatewayFactory) -> None:
    gateway = await gateway_factory(app_env="development")
    asset = load_assets()["graphiql.min.js"]

    compressed = await gateway.get(asset.url, headers={"Accept-Encoding": "gzip"})
    again = await gateway.get(asset.url, headers={"If-None-Match": compressed.headers["etag"]})

    assert compressed.headers["content-encoding"] == "gzip"
    assert compressed.content == asset.body  # httpx decodes it
    assert int(compressed.headers["content-length"]) < len(asset.body) // 3
    assert gzip.decompress(asset.gzipped) == asset.body
    assert (again.status_code, again.content) == (304, b"")


@pytest.mark.parametrize(
    "path",
    [
        "/graphiql/assets/0000000000000000/graphiql.min.js",
        "/graphiql/assets/{digest}/NOTICE.md",
        "/graphiql/assets/{digest}/..%2Fsite.py",
        "/graphiql/assets/{digest}/page.html",
    ],
)
async def test_a_stale_digest_or_a_file_that_is_not_an_asset_is_not_found(
    gateway_factory: GatewayFactory, path: str
) -> None:
    gateway = await gateway_factory(app_env="development")

    response = await gateway.get(path.format(digest=load_assets()["init.js"].digest))

    assert response.status_code == 404


async def test_development_opens_with_the_demo_token_and_the_dashboard_query(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(app_env="development", graphiql_demo_token="demo.jwt.token")

    config = config_of((await gateway.get("/graphql", headers=HTML)).text)

    assert config == {
        "endpoint": "/graphql",
        "query": DASHBOARD_QUERY,
        "headers": '{\n  "Authorization": "Bearer demo.jwt.token"\n}',
    }


async def test_production_with_graphiql_enabled_opens_without_a_token(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(graphiql_enabled=True)

    response = await gateway.get("/graphql", headers=HTML)

    assert response.status_code == 200
    config = config_of(response.text)
    assert config["headers"] == ('{\n  "Authorization": "Bearer <paste your access token here>"\n}')
    assert "eyJ" not in response.text
    assert (await gateway.get(load_assets()["init.js"].url)).status_code == 200


def test_nothing_in_the_configuration_can_close_its_script_element() -> None:
    site = GraphiQLSite(demo_token="</script><script>alert(1)</script>&")

    page = bytes(site.page().body).decode()

    assert "</script><script>alert" not in page
    assert json.loads(references(page).config or "")["headers"].endswith(
        'Bearer </script><script>alert(1)</script>&"\n}'
    )


async def test_the_dashboard_query_graphiql_opens_with_runs_cleanly(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory()

    response = await graphql(
        gateway, DASHBOARD_QUERY, token_for([(GB_BUSINESS_ID, Role.OWNER)], subject="demo_owner")
    )

    body = response.json()
    assert "errors" not in body
    (membership,) = body["data"]["viewer"]["memberships"]
    assert membership["role"] == "OWNER"
    assert membership["business"]["id"] == GB_BUSINESS_ID
    assert len(membership["business"]["invoices"]["edges"]) == 5


def test_the_vendored_files_are_the_ones_the_notice_records() -> None:
    notice = (STATIC / "NOTICE.md").read_text()
    recorded = dict(re.findall(r"^\| (\S+) \| \S+ \| [^|]+ \| ([0-9a-f]{64}) \|$", notice, re.M))

    assert set(recorded) == {
        "graphiql.min.js",
        "graphiql.min.css",
        "react.production.min.js",
        "react-dom.production.min.js",
    }
    for name, digest in recorded.items():
        assert hashlib.sha256((STATIC / name).read_bytes()).hexdigest() == digest, name
    assert (STATIC / "LICENSE.graphiql").is_file()
    assert (STATIC / "LICENSE.react").is_file()


async def test_an_api_client_asking_for_json_is_not_given_the_page(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(app_env="development")

    response = await gateway.get("/graphql", headers={"Accept": "application/json"})

    assert response.status_code != 200
    assert "graphiql" not in response.text.lower()


def test_the_wheel_carries_the_page_and_every_static_file() -> None:
    # Given the package data pyproject.toml declares for app.http.graphiql
    pyproject = tomllib.loads((STATIC.parents[3] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["app.http.graphiql"]
    package = STATIC.parent
    needed = ["page.html", *(f"static/{p.name}" for p in STATIC.iterdir())]

    # Then every file the site reads at run time is declared
    uncovered = [name for name in needed if not any(fnmatch(name, p) for p in patterns)]
    assert uncovered == []
    assert all((package / name).is_file() for name in needed)
