"""GraphiQL in a real browser: headless Chromium opens the page of a running gateway.

In development it opens as the demo owner with the schema loaded (docs, autocompletion)
and runs the dashboard; in production it opens with no token and sends nothing until
one is pasted (an expired one included), then loads the schema with it and runs; a
partner token pasted over the demo one gets the dashboard its scopes can run, and it
answers data without errors. Throughout, the page must get no error status (a 401 above
all: each spends the address's failed-login budget), log no console error or warning,
load nothing from another origin and break no rule of its Content-Security-Policy.
Screenshots are kept as artifacts of the run."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import (
    ConsoleMessage,
    Page,
    Request,
    Response,
    Route,
    async_playwright,
    expect,
)

from app.auth.principal import Role
from app.http.graphiql.examples import DASHBOARD_QUERY, dashboard_query
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID
from tests.browser.stack import (
    AUDIENCE,
    DEMO_SUBJECT,
    ISSUER,
    Stack,
    artifacts_dir,
    chromium_path,
)

# One stack (processes) for the module: its fixture and these tests share one event loop.
pytestmark = pytest.mark.asyncio(loop_scope="module")

SUBJECT = "partner_in_the_browser"
HEADERS_EDITOR = (
    'section.graphiql-editor-tool[aria-label="Headers"] .graphiql-editor:not(.hidden) .CodeMirror'
)
QUERY_EDITOR = ".graphiql-query-editor .CodeMirror"
RESULT = 'section.result-window[aria-label="Result Window"]'
NOTE = "#graphiql-note"
DOCS_BUTTON = '.graphiql-sidebar button[aria-label="Show Documentation Explorer"]'
DOCS_QUERY_TYPE = ".graphiql-doc-explorer .graphiql-doc-explorer-type-name"
# GraphiQL's own steps are quick; this bounds a slow shared CI machine, not the product.
STEP_TIMEOUT_MS = 30_000
# Longer than init.js's SETTLE_MS, after which a pasted header is acted on.
QUIET_MS = 1_500

# Records violations of the page's Content-Security-Policy as the browser reports them.
_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@dataclass
class Observed:
    """What the page did: every request it made, and anything that went wrong."""

    origin: str
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("request", lambda request: self.requests.append(request))
        page.on("response", self._response)
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on("console", self._console)

    def third_party_requests(self) -> list[str]:
        return [
            r.url
            for r in self.requests
            if not r.url.startswith("data:")
            and f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}" != self.origin
        ]

    def graphql_posts(self) -> list[Request]:
        return [
            r for r in self.requests if r.method == "POST" and urlsplit(r.url).path == "/graphql"
        ]

    def introspections(self) -> list[Request]:
        return [r for r in self.graphql_posts() if operation_name(r) == "IntrospectionQuery"]

    def _response(self, response: Response) -> None:
        # A 401 is the one that matters most (the failed-login budget), but no answer
        # the page gets may be an error.
        if response.status >= 400:
            self.problems.append(
                f"HTTP {response.status}: {response.request.method} {response.url}"
            )

    def _console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.problems.append(f"console {message.type}: {message.text}")


def operation_name(request: Request) -> str | None:
    body: Any = request.post_data_json
    return body.get("operationName") if isinstance(body, dict) else None


async def eventually(condition: Callable[[], bool]) -> None:
    """Waits for what the page's listeners record (Playwright waits for the page only)."""
    deadline = time.monotonic() + STEP_TIMEOUT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def bearer(token: str) -> str:
    return json.dumps({"Authorization": f"Bearer {token}"})


async def set_editor_text(page: Page, selector: str, text: str) -> None:
    """Types into a CodeMirror editor as a person pasting would."""
    await page.locator(selector).click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(text)


@pytest_asyncio.fixture(loop_scope="module")
async def browser_page() -> AsyncIterator[Page]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            context = await browser.new_context(viewport={"width": 1400, "height": 900})
            await context.add_init_script(_RECORD_CSP_VIOLATIONS)
            page = await context.new_page()
            page.set_default_timeout(STEP_TIMEOUT_MS)
            yield page
        finally:
            await browser.close()


async def open_graphiql(page: Page, gateway_url: str) -> Observed:
    observed = Observed(origin=gateway_url)
    observed.watch(page)
    response = await page.goto(f"{gateway_url}/graphql")
    assert response is not None
    assert response.status == 200
    await expect(page.locator(HEADERS_EDITOR)).to_be_visible(timeout=STEP_TIMEOUT_MS)
    return observed


async def assert_clean(page: Page, observed: Observed) -> None:
    assert observed.third_party_requests() == []
    assert await page.evaluate("window.__cspViolations") == []
    assert observed.problems == []


async def query_text(page: Page) -> str:
    text: str = await page.evaluate(
        f"document.querySelector({QUERY_EDITOR!r}).CodeMirror.getValue()"
    )
    return text


async def assert_docs_show_query(page: Page) -> None:
    """The schema is loaded: the docs explorer lists the root type Query."""
    await page.locator(DOCS_BUTTON).click()
    root = page.locator(DOCS_QUERY_TYPE, has_text="Query").first
    await expect(root).to_have_text("Query", timeout=STEP_TIMEOUT_MS)
    await page.locator('.graphiql-sidebar button[aria-label="Hide Documentation Explorer"]').click()


async def run_dashboard(page: Page) -> dict[str, Any]:
    """Runs the query editor's document; the gateway's answer to it."""

    def is_dashboard(response: Response) -> bool:
        return response.request.method == "POST" and operation_name(response.request) != (
            "IntrospectionQuery"
        )

    async with page.expect_response(is_dashboard, timeout=STEP_TIMEOUT_MS) as answered:
        await page.locator(".graphiql-execute-button").click()
    response = await answered.value
    assert response.status == 200
    body: dict[str, Any] = await response.json()
    return body


async def test_production_sends_nothing_until_a_usable_token_is_pasted(
    graphiql_stack: Stack, browser_page: Page
) -> None:
    page = browser_page
    key = graphiql_stack.signing_key
    expired = mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=SUBJECT,
        memberships=[(GB_BUSINESS_ID, Role.ACCOUNTANT)],
        ttl_seconds=600,
        now=int(time.time()) - 3600,
    )
    token = mint_token(
        key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=SUBJECT,
        memberships=[(GB_BUSINESS_ID, Role.ACCOUNTANT)],
    )

    # Given GraphiQL opened from a production gateway that enables it (no token on it)
    observed = await open_graphiql(page, graphiql_stack.production_url)
    await expect(page.locator(HEADERS_EDITOR)).not_to_contain_text("eyJ")

    # Then it says what to paste, and sends nothing, Run included
    await expect(page.locator(NOTE)).to_contain_text("No access token in the Headers tab")
    await page.locator(".graphiql-execute-button").click()
    await expect(page.locator(RESULT)).to_contain_text("Not sent")
    await page.wait_for_timeout(QUIET_MS)
    assert observed.graphql_posts() == []

    # When the headers are not JSON, or the token has expired, still nothing is sent,
    # and the note says why
    await set_editor_text(page, HEADERS_EDITOR, f"Authorization: Bearer {token}")
    await expect(page.locator(NOTE)).to_contain_text("The Headers tab is not a JSON object")
    await set_editor_text(page, HEADERS_EDITOR, bearer(expired))
    await expect(page.locator(NOTE)).to_contain_text("expired")
    await page.wait_for_timeout(QUIET_MS)
    assert observed.graphql_posts() == []

    # When a valid token is pasted, the schema is fetched with it: docs and a clean run
    await set_editor_text(page, HEADERS_EDITOR, bearer(token))
    await expect(page.locator(NOTE)).to_be_hidden()
    await assert_docs_show_query(page)
    assert await query_text(page) == DASHBOARD_QUERY
    body = await run_dashboard(page)
    assert "errors" not in body
    (membership,) = body["data"]["viewer"]["memberships"]
    assert membership["role"] == "ACCOUNTANT"
    await expect(page.locator(RESULT)).to_contain_text(f'"id": "{SUBJECT}"')
    screenshot = artifacts_dir() / "graphiql-production-partner.png"
    await page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000

    # And every request went with the token from the Headers tab
    sent = observed.graphql_posts()
    assert len(observed.introspections()) == 1
    assert {r.headers.get("authorization") for r in sent} == {f"Bearer {token}"}
    await assert_clean(page, observed)


async def test_development_opens_with_the_schema_as_the_demo_owner(
    graphiql_stack: Stack, browser_page: Page
) -> None:
    page = browser_page

    # Given GraphiQL opened from a development gateway (the demo token in its Headers tab)
    observed = await open_graphiql(page, graphiql_stack.development_url)

    # Then the schema came with the demo token at once: docs, no note
    await assert_docs_show_query(page)
    await expect(page.locator(NOTE)).to_be_hidden()
    (introspection,) = observed.introspections()
    assert (introspection.headers.get("authorization") or "").startswith("Bearer eyJ")

    # When the pre-filled dashboard query is run as it is
    assert await query_text(page) == DASHBOARD_QUERY
    body = await run_dashboard(page)

    # Then it ran with the demo token the page carries, with data and no errors
    assert "errors" not in body
    (membership,) = body["data"]["viewer"]["memberships"]
    assert membership["role"] == "OWNER"
    await expect(page.locator(RESULT)).to_contain_text(f'"id": "{DEMO_SUBJECT}"')
    screenshot = artifacts_dir() / "graphiql-development-demo.png"
    await page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000

    # And autocompletion knows the schema
    await set_editor_text(page, QUERY_EDITOR, "{ ")
    await page.keyboard.type("vie")  # keystrokes: what GraphiQL suggests on
    await expect(page.locator(".CodeMirror-hints")).to_contain_text("viewer")
    await assert_clean(page, observed)


async def test_a_partner_token_gets_the_docs_and_a_dashboard_its_scopes_can_run(
    graphiql_stack: Stack, browser_page: Page
) -> None:
    page = browser_page
    # As `make run` prints it: an owner's membership, limited to invoices:read
    partner = mint_token(
        graphiql_stack.signing_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=SUBJECT,
        memberships=[(GB_BUSINESS_ID, Role.OWNER)],
        scopes=["invoices:read"],
    )

    # Given GraphiQL opened in development, as the demo owner with the full dashboard
    observed = await open_graphiql(page, graphiql_stack.development_url)
    await assert_docs_show_query(page)
    assert await query_text(page) == DASHBOARD_QUERY

    # When the partner's token is pasted over the demo one
    await set_editor_text(page, HEADERS_EDITOR, bearer(partner))

    # Then the note names its scopes, the dashboard becomes the one they can read,
    # and the schema is fetched again with the partner's token
    await expect(page.locator(NOTE)).to_contain_text("Partner token with scopes: invoices:read")
    expected = dashboard_query(frozenset({"invoices"}))
    await page.wait_for_function(
        f"document.querySelector({QUERY_EDITOR!r}).CodeMirror.getValue() === {json.dumps(expected)}"
    )
    await eventually(lambda: len(observed.introspections()) == 2)
    assert observed.introspections()[-1].headers.get("authorization") == f"Bearer {partner}"
    await assert_docs_show_query(page)

    # And it runs with the partner's token: data, and no errors
    body = await run_dashboard(page)
    assert "errors" not in body
    (membership,) = body["data"]["viewer"]["memberships"]
    assert membership["business"]["invoices"]["edges"] != []
    assert observed.graphql_posts()[-1].headers.get("authorization") == f"Bearer {partner}"
    screenshot = artifacts_dir() / "graphiql-development-partner.png"
    await page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000
    await assert_clean(page, observed)


async def test_the_watchers_catch_a_third_party_request_and_a_policy_violation(
    browser_page: Page,
) -> None:
    # Given a page that breaks both rules: an inline script its policy forbids, and an
    # image from another origin (a closed loopback port: nothing leaves the machine)
    page = browser_page
    observed = Observed(origin="http://127.0.0.1:1")
    observed.watch(page)
    html = (
        '<meta http-equiv="Content-Security-Policy" content="script-src \'none\'">'
        "<script>document.title = 'ran';</script>"
        '<img src="http://127.0.0.2:9/pixel.png">'
    )

    # When the browser loads it
    await page.goto(f"data:text/html,{quote(html)}")
    await page.wait_for_load_state("load")

    # Then both are seen
    assert observed.third_party_requests() == ["http://127.0.0.2:9/pixel.png"]
    assert await page.evaluate("window.__cspViolations") == ["script-src-elem inline"]
    assert await page.title() == ""


async def test_the_watchers_catch_an_error_status_and_a_console_warning(
    browser_page: Page,
) -> None:
    # Given a page of a made-up origin (answered here, nothing leaves the browser) that
    # logs a warning and fetches a resource answered 401
    page = browser_page
    origin = "http://watchers.test"
    observed = Observed(origin=origin)
    observed.watch(page)
    html = "<script>console.warn('careful'); fetch('/graphql', {method: 'POST'});</script>"

    async def answer(route: Route) -> None:
        if urlsplit(route.request.url).path == "/graphql":
            await route.fulfill(status=401, body="{}", content_type="application/json")
        else:
            await route.fulfill(status=200, body=html, content_type="text/html")

    await page.route(f"{origin}/**", answer)

    # When the browser loads it
    async with page.expect_response(f"{origin}/graphql"):
        await page.goto(f"{origin}/")

    # Then both are seen, the 401 also as the console error Chromium logs for it
    assert f"HTTP 401: POST {origin}/graphql" in observed.problems
    assert "console warning: careful" in observed.problems
