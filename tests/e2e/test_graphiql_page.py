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
from app.http.graphiql.examples import (
    ALL_PARTS,
    DASHBOARD_QUERY,
    PARTS,
    dashboard_query,
    every_part_set,
    examples_config,
    part_key,
)
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


async def test_development_opens_with_the_demo_token_and_every_dashboard_version(
    gateway_factory: GatewayFactory,
) -> None:
    gateway = await gateway_factory(app_env="development", graphiql_demo_token="demo.jwt.token")

    config = config_of((await gateway.get("/graphql", headers=HTML)).text)

    assert config == {
        "endpoint": "/graphql",
        "headers": '{\n  "Authorization": "Bearer demo.jwt.token"\n}',
        "examples": examples_config(),
    }
    assert config["examples"]["documents"][part_key(ALL_PARTS)] == DASHBOARD_QUERY
    assert len(config["examples"]["documents"]) == 2 ** len(PARTS)


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


def test_each_part_carries_the_rule_the_gateway_enforces() -> None:
    # What init.js compares the token's claims with (the policy is app/auth/policy.py)
    assert examples_config()["parts"] == [
        {"name": "details", "scope": "businesses:read", "roles": [r.value for r in Role]},
        {"name": "balance", "scope": "payments:read", "roles": ["owner", "admin", "accountant"]},
        {"name": "invoices", "scope": "invoices:read", "roles": [r.value for r in Role]},
        {"name": "customers", "scope": "customers:read", "roles": [r.value for r in Role]},
    ]


def test_a_dashboard_version_says_what_it_leaves_out_and_why() -> None:
    document = dashboard_query(frozenset({"invoices"}))

    assert document.startswith(
        "\n".join(
            [
                "# Your businesses and your role in each, with:",
                "#   - latest invoices",
                "# Left out, as this token may not read them:",
                "#   - business names and currencies (needs businesses:read)",
                "#   - balances (needs payments:read and the role owner, admin or accountant)",
                "#   - invoices' customers (needs customers:read)",
                "# Runs with the token in the Headers tab below.",
                "query Dashboard {",
            ]
        )
    )
    assert "invoices(first: 5)" in document
    assert "name" not in document.split("query Dashboard")[1]
    assert "customer {" not in document


def test_customers_without_invoices_add_nothing_and_an_unknown_part_is_refused() -> None:
    assert (
        dashboard_query(frozenset({"customers"})).split("query")[1]
        == (dashboard_query(frozenset()).split("query")[1])
    )
    with pytest.raises(ValueError, match="unknown dashboard parts: \\['payroll'\\]"):
        dashboard_query(frozenset({"payroll"}))


@pytest.mark.parametrize("parts", every_part_set(), ids=lambda parts: part_key(parts) or "none")
async def test_every_dashboard_version_runs_with_a_partner_token_of_just_its_scopes(
    gateway_factory: GatewayFactory, token_for: TokenFactory, parts: frozenset[str]
) -> None:
    # Given a partner token with exactly the scopes of these parts (and an owner's role)
    scopes = [part.scope for part in PARTS if part.name in parts]
    token = token_for([(GB_BUSINESS_ID, Role.OWNER)], subject="partner", scopes=scopes)
    gateway = await gateway_factory()

    # When the version GraphiQL would open with for it is run
    response = await graphql(gateway, dashboard_query(parts), token)

    # Then it answers data and no errors
    body = response.json()
    assert "errors" not in body
    (membership,) = body["data"]["viewer"]["memberships"]
    assert membership["business"]["id"] == GB_BUSINESS_ID
    assert ("invoices" in membership["business"]) == ("invoices" in parts)


async def test_a_viewer_gets_the_dashboard_without_the_balance_and_it_runs(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    gateway = await gateway_factory()
    viewer = token_for([(GB_BUSINESS_ID, Role.VIEWER)], subject="viewer")
    readable = frozenset(p.name for p in PARTS if Role.VIEWER.value in p.roles)

    whole = (await graphql(gateway, DASHBOARD_QUERY, viewer)).json()
    fitted = (await graphql(gateway, dashboard_query(readable), viewer)).json()

    assert readable == ALL_PARTS - {"balance"}
    assert [(e["path"][-1], e["extensions"]["code"]) for e in whole["errors"]] == [
        ("balance", "FORBIDDEN")
    ]
    assert "errors" not in fitted
    assert fitted["data"]["viewer"]["memberships"][0]["role"] == "VIEWER"


async def test_the_whole_dashboard_fails_for_the_partner_token_make_run_prints(
    gateway_factory: GatewayFactory, token_for: TokenFactory
) -> None:
    # Why GraphiQL picks a version: the whole one asks for what invoices:read cannot read
    gateway = await gateway_factory()
    partner = token_for([(GB_BUSINESS_ID, Role.OWNER)], scopes=["invoices:read"])

    body = (await graphql(gateway, DASHBOARD_QUERY, partner)).json()

    assert body["data"] is None
    assert [(e["path"], e["extensions"]["code"]) for e in body["errors"]] == [
        (["viewer", "memberships", 0, "business", "name"], "FORBIDDEN")
    ]


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
