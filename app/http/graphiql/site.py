"""GraphiQL served by the gateway itself: the page and the assets it loads.

Nothing is fetched from a third party at run time (the machines running GraphiQL may have
no network): GraphiQL and React are vendored in `static/` (see its NOTICE.md). The page
carries a strict Content-Security-Policy that allows this origin only. Assets are served
under their content digest, so they can be cached for good and never go stale.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import json
from dataclasses import dataclass, field
from importlib import resources
from string import Template

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from app.core.settings import Settings
from app.http.etags import none_match
from app.http.graphiql.examples import examples_config

ASSET_PREFIX = "/graphiql/assets"
_CONTENT_TYPES = {
    "graphiql.min.js": "text/javascript; charset=utf-8",
    "graphiql.min.css": "text/css; charset=utf-8",
    "react.production.min.js": "text/javascript; charset=utf-8",
    "react-dom.production.min.js": "text/javascript; charset=utf-8",
    "init.js": "text/javascript; charset=utf-8",
    "page.css": "text/css; charset=utf-8",
}
# GraphiQL's stylesheet inlines its fonts and icons as data: URIs; React and CodeMirror
# set styles through the CSSOM, which style-src does not restrict.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)
_IMMUTABLE = "public, max-age=31536000, immutable"
_DIGEST_LENGTH = 16


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    content_type: str
    digest: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "digest", hashlib.sha256(self.body).hexdigest()[:_DIGEST_LENGTH])

    @functools.cached_property
    def gzipped(self) -> bytes:
        # mtime=0: the same bytes on every start, like the digest that names them.
        return gzip.compress(self.body, 9, mtime=0)

    @property
    def url(self) -> str:
        return f"{ASSET_PREFIX}/{self.digest}/{self.name}"


@functools.cache
def load_assets() -> dict[str, Asset]:
    """The vendored files, read once per process: package data never changes."""
    static = resources.files(__package__) / "static"
    return {
        name: Asset(name, (static / name).read_bytes(), content_type)
        for name, content_type in _CONTENT_TYPES.items()
    }


def _json_for_html(value: object) -> str:
    # Inside <script type="application/json">: nothing in the data may close the element.
    text = json.dumps(value, indent=2)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


class GraphiQLSite:
    """The page at GET /graphql (for browsers) and its assets.

    `demo_token` pre-fills the Headers tab; the caller passes one in development only.
    """

    def __init__(self, *, demo_token: str | None = None) -> None:
        self._assets = dict(load_assets())
        if demo_token:
            headers = json.dumps({"Authorization": f"Bearer {demo_token}"}, indent=2)
        else:
            headers = '{\n  "Authorization": "Bearer <paste your access token here>"\n}'
        # init.js opens with the dashboard version the token in `headers` can run.
        config = {"endpoint": "/graphql", "headers": headers, "examples": examples_config()}
        template = Template((resources.files(__package__) / "page.html").read_text("utf-8"))
        self._page = template.substitute(
            config=_json_for_html(config),
            graphiql_css=self._assets["graphiql.min.css"].url,
            page_css=self._assets["page.css"].url,
            react_js=self._assets["react.production.min.js"].url,
            react_dom_js=self._assets["react-dom.production.min.js"].url,
            graphiql_js=self._assets["graphiql.min.js"].url,
            init_js=self._assets["init.js"].url,
        ).encode("utf-8")

    @property
    def assets(self) -> dict[str, Asset]:
        return dict(self._assets)

    def page(self) -> Response:
        return Response(
            self._page,
            media_type="text/html; charset=utf-8",
            headers={
                "Content-Security-Policy": CONTENT_SECURITY_POLICY,
                # In development the page carries a token: never cached, never referred.
                "Cache-Control": "no-store",
                "Referrer-Policy": "no-referrer",
                "X-Content-Type-Options": "nosniff",
            },
        )

    async def asset(self, request: Request) -> Response:
        asset = self._assets.get(request.path_params["name"])
        if asset is None or request.path_params["digest"] != asset.digest:
            # An old digest is a stale page: it must not be given today's bytes forever.
            return PlainTextResponse("Not Found", status_code=404)
        headers = {
            "Cache-Control": _IMMUTABLE,
            "ETag": f'"{asset.digest}"',
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin",
        }
        if none_match(request.headers.get("if-none-match"), headers["ETag"]):
            return Response(status_code=304, headers=headers)
        body = asset.body
        if "gzip" in request.headers.get("accept-encoding", ""):
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=asset.content_type, headers=headers)

    def routes(self) -> list[Route]:
        return [Route(f"{ASSET_PREFIX}/{{digest}}/{{name}}", self.asset, methods=["GET", "HEAD"])]


def graphiql_site(settings: Settings) -> GraphiQLSite | None:
    """GraphiQL as the settings allow it: None when off (development on, production off
    unless GRAPHIQL_ENABLED), pre-filled with the demo token in development only."""
    if not settings.graphiql:
        return None
    token = settings.graphiql_demo_token
    # The settings refuse a demo token in production; this keeps it off the page anyway.
    demo = token.get_secret_value() if token is not None and settings.is_development else None
    return GraphiQLSite(demo_token=demo)
