"""`--check`: is the running cluster what it claims to be?

Through the balancer only, as a client would: viewer queries as a viewer, dashboard
queries as an owner, one payInvoice with a fresh key and its retry with the same key (the
retry lands on another gateway, round robin: a replay proves the replicas share their
idempotency store), and one request without a token carrying a forged X-Forwarded-For.
Then, from each gateway directly (with the metrics token): every one of them counted
GraphQL requests, and the payment's domain events were confirmed by RabbitMQ. From
Redis: the unauthenticated request was rate-limited under the balancer's view of the
client (127.0.0.1), never under the forged address.

Each finding is one line; the check passes when there are none.
"""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import httpx
import redis
from prometheus_client.parser import text_string_to_metric_families

from deploy.local.banner import OWNER, VIEWER
from deploy.local.topology import url
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID

if TYPE_CHECKING:
    from deploy.local.cluster import Running

VIEWER_QUERY = "query Viewer { viewer { id memberships { role business { id name } } } }"
DASHBOARD_QUERY = """query Dashboard($id: ID!) { business(id: $id) { id name
  invoices(first: 5) { edges { node { id number status total { amount currency } } } } } }"""
PAY_INVOICE = """mutation PayInvoice($input: PayInvoiceInput!) { payInvoice(input: $input) {
  payment { id status } userErrors { code message } replayed } }"""
FORGED_ADDRESS = "203.0.113.9"
EVENTS_WAIT_SECONDS = 15.0


def _post(client: httpx.Client, token: str | None, query: str, variables: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    return answer.status_code, answer.json()


def _requests(running: Running, findings: list[str]) -> None:
    tokens = running.tokens
    with httpx.Client(base_url=url(running.ports.lb), timeout=15, trust_env=False) as client:
        for _ in range(len(running.ports.gateways)):
            status, body = _post(client, tokens[VIEWER], VIEWER_QUERY)
            if status != 200 or "errors" in body or body["data"]["viewer"]["id"] is None:
                findings.append(f"viewer query: {status} {body}")
            status, body = _post(client, tokens[OWNER], DASHBOARD_QUERY, {"id": GB_BUSINESS_ID})
            if status != 200 or "errors" in body or not body["data"]["business"]["invoices"]:
                findings.append(f"dashboard query: {status} {body}")
        pay = {
            "input": {
                "idempotencyKey": f"cluster-check-{uuid.uuid4().hex}",
                "invoiceId": GB_OPEN_INVOICE_ID,
                "amount": {"amount": "12.50", "currency": "GBP"},
                "paymentMethod": "pm_card_ok",
            }
        }
        first = _post(client, tokens[OWNER], PAY_INVOICE, pay)
        retry = _post(client, tokens[OWNER], PAY_INVOICE, pay)
        findings += payment_findings(first, retry)
        forged = client.post(
            "/graphql",
            json={"query": VIEWER_QUERY},
            headers={"X-Forwarded-For": FORGED_ADDRESS},
        )
        if forged.status_code != 401:
            findings.append(f"a request without a token: {forged.status_code}, not 401")


def payment_findings(first: tuple[int, Any], retry: tuple[int, Any]) -> list[str]:
    """A payment taken once, and its retry with the same key answered as a replay of it."""
    taken, replay = ((body.get("data") or {}).get("payInvoice") or {} for _, body in (first, retry))
    found = []
    payment = taken.get("payment") or {}
    if first[0] != 200 or payment.get("status") != "SUCCEEDED" or taken.get("userErrors") != []:
        found.append(f"payInvoice: {first}")
    same = replay.get("payment") == taken.get("payment")
    if retry[0] != 200 or replay.get("replayed") is not True or not same:
        found.append(f"payInvoice retried with its key was not replayed: {retry}")
    return found


def unserved(ports: tuple[int, ...], counts: list[int]) -> list[str]:
    """A gateway the balancer never sent a GraphQL request to."""
    return [
        f"the gateway on {port} served no GraphQL request"
        for port, count in zip(ports, counts, strict=True)
        if count == 0
    ]


def address_findings(keys: list[str]) -> list[str]:
    """The unauthenticated request's bucket, by the address the balancer saw (127.0.0.1)
    and never by the one the client wrote in its X-Forwarded-For."""
    found = []
    if "ip:127.0.0.1" not in keys:
        found.append(f"no shared rate-limit bucket for the client 127.0.0.1 in Redis: {keys}")
    if any(FORGED_ADDRESS in key for key in keys):
        found.append(f"a forged X-Forwarded-For was believed: {keys}")
    return found


def _metric(text: str, name: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    )


def _scrape(running: Running) -> list[str]:
    headers = {"Authorization": f"Bearer {running.metrics_token}"}
    texts = []
    with httpx.Client(timeout=5, trust_env=False) as client:
        for port in running.ports.gateways:
            answer = client.get(f"{url(port)}/metrics", headers=headers)
            answer.raise_for_status()
            texts.append(answer.text)
    return texts


def _served_by_each(running: Running, findings: list[str]) -> list[int]:
    counts = [int(_metric(text, "gateway_requests_total")) for text in _scrape(running)]
    findings += unserved(running.ports.gateways, counts)
    return counts


def _events_published(running: Running, findings: list[str]) -> int:
    deadline = time.monotonic() + EVENTS_WAIT_SECONDS
    while True:
        published = sum(
            int(_metric(text, "gateway_events_published_total")) for text in _scrape(running)
        )
        if published > 0:
            return published
        if time.monotonic() > deadline:
            findings.append(f"no domain event confirmed by RabbitMQ in {EVENTS_WAIT_SECONDS}s")
            return 0
        time.sleep(0.5)


def _rate_limit_keys(running: Running, findings: list[str]) -> None:
    prefix = running.backing.rate_limit_key_prefix
    client = redis.Redis.from_url(running.backing.redis_url, decode_responses=True)
    try:
        keys = [key.removeprefix(prefix) for key in client.scan_iter(match=f"{prefix}*")]
    finally:
        client.close()
    findings += address_findings(keys)


def check(running: Running) -> tuple[list[str], str]:
    """(findings, a one-line summary)."""
    findings: list[str] = []
    _requests(running, findings)
    counts = _served_by_each(running, findings)
    published = _events_published(running, findings)
    _rate_limit_keys(running, findings)
    summary = (
        f"requests served per gateway: {counts}; domain events confirmed: {published};"
        " payInvoice replayed across gateways; rate limits shared in Redis"
    )
    return findings, summary


def run_check(running: Running) -> int:
    findings, summary = check(running)
    for finding in findings:
        print(f"FAIL: {finding}", flush=True)
    if findings:
        return 1
    print(f"check passed: {summary}", flush=True)
    return 0
