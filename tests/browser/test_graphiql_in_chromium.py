"""GraphiQL in a real browser: headless Chromium opens the page of a running gateway,
a token goes into the Headers tab, the dashboard query runs, and its answer is on the
page; in development the page opens ready to run as a demo user. The page may load
nothing from another origin and break no rule of its Content-Security-Policy.
Screenshots are kept as artifacts of the run."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

import pytest
import pytest_asyncio
from playwright.async_api import ConsoleMessage, Page, Request, async_playwright, expect

from app.auth.principal import Role
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
RESULT = 'section.result-window[aria-label="Result Window"]'
# GraphiQL's own steps are quick; this bounds a slow shared CI machine, not the product.
STEP_TIMEOUT_MS = 30_000

# Records violations of the page's Content-Security-Policy as the browser reports them.
_RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


@dataclass
class Observed:
    """What the page did: every request it made, and errors it reported."""

    origin: str
    requests: list[Request] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("request", lambda request: self.requests.append(request))
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

    def _console(self, message: ConsoleMessage) -> None:
        # GraphiQL's introspection before a token is set is answered 401: expected.
        if message.type == "error" and "401" not in message.text:
            self.problems.append(f"console error: {message.text}")


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


async def test_a_partner_sets_a_token_and_runs_the_dashboard_query(
    graphiql_stack: Stack, browser_page: Page
) -> None:
    page = browser_page
    token = mint_token(
        graphiql_stack.signing_key,
        issuer=ISSUER,
        audience=AUDIENCE,
        subject=SUBJECT,
        memberships=[(GB_BUSINESS_ID, Role.ACCOUNTANT)],
    )

    # Given GraphiQL opened from a production gateway that enables it (no token on it)
    observed = await open_graphiql(page, graphiql_stack.production_url)
    await expect(page.locator(HEADERS_EDITOR)).not_to_contain_text("eyJ")

    # When the partner puts their token in the Headers tab and runs the example query
    headers = json.dumps({"Authorization": f"Bearer {token}"})
    await set_editor_text(page, HEADERS_EDITOR, headers)
    await page.locator(".graphiql-execute-button").click()

    # Then the answer is on the page: the token's subject and its role in the business
    result = page.locator(RESULT)
    await expect(result).to_contain_text(f'"id": "{SUBJECT}"', timeout=STEP_TIMEOUT_MS)
    await expect(result).to_contain_text('"role": "ACCOUNTANT"', timeout=STEP_TIMEOUT_MS)
    screenshot = artifacts_dir() / "graphiql-production-partner.png"
    await page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 10_000

    # And the query went to the gateway with the token from the Headers tab
    sent = observed.graphql_posts()
    assert any(r.headers.get("authorization") == f"Bearer {token}" for r in sent)

    # And nothing came from, or went to, another origin; no policy rule was broken
    await assert_clean(page, observed)


async def test_development_opens_ready_to_run_as_the_demo_owner(
    graphiql_stack: Stack, browser_page: Page
) -> None:
    page = browser_page

    # Given GraphiQL opened from a development gateway
    observed = await open_graphiql(page, graphiql_stack.development_url)

    # When the pre-filled dashboard query is run as it is
    await expect(page.locator(".graphiql-query-editor")).to_contain_text("query Dashboard")
    await page.locator(".graphiql-execute-button").click()

    # Then it ran with the demo token the page carries
    result = page.locator(RESULT)
    await expect(result).to_contain_text(f'"id": "{DEMO_SUBJECT}"', timeout=STEP_TIMEOUT_MS)
    await expect(result).to_contain_text('"role": "OWNER"', timeout=STEP_TIMEOUT_MS)
    screenshot = artifacts_dir() / "graphiql-development-demo.png"
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
