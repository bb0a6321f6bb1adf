"""The chaos run's mixed workload, through the balancer, as a client app would send it.

Each worker loops over a weighted mix (MIX): dashboard reads, payInvoice by card (for
"1.00" or the whole amount due) and by bank transfer (pending, settled later by the
settler task through the payments sandbox's admin route, as a bank would), refunds of
payments it took, invoices created and finalized (new targets for payments), retries of
an earlier key with the same input, and the same new key sent three times at once
(deploy/local/chaos/subscriptions.py adds live dashboards). Every answer is
kept (deploy/local/chaos/invariants.py's Answer for mutations, a Sample for the
timeline), and keys left without a final answer are retried after the faults, as the
API tells a client to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import re
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from deploy.local.chaos.invariants import Answer
from sandbox.seed import GB_BUSINESS_ID, GB_CUSTOMER_ID, INVOICES

DASHBOARD = """query Dashboard($id: ID!) { business(id: $id) { id name
  invoices(first: 5) { edges { node { id number status total { amount currency } } } } } }"""
PAY = """mutation Pay($input: PayInvoiceInput!) { payInvoice(input: $input) {
  payment { id status } userErrors { code } replayed } }"""
REFUND = """mutation Refund($input: RefundPaymentInput!) { refundPayment(input: $input) {
  refund { id } payment { id status } userErrors { code } replayed } }"""
CREATE = """mutation Create($input: CreateInvoiceInput!) { createInvoice(input: $input) {
  invoice { id status } userErrors { code } replayed } }"""
FINALIZE = """mutation Finalize($input: FinalizeInvoiceInput!) { finalizeInvoice(input: $input) {
  invoice { id status } userErrors { code } replayed } }"""
MUTATIONS = {
    "payInvoice": PAY,
    "refundPayment": REFUND,
    "createInvoice": CREATE,
    "finalizeInvoice": FINALIZE,
}
# Answers that say "not known yet: send the same key again" (a fault's mark) ...
UNKNOWN_CODES = frozenset({"DOWNSTREAM_UNAVAILABLE", "DOWNSTREAM_INVALID_RESPONSE"})
# ... and "not now: another request holds this key or this invoice" (the workload's own
# concurrent sends of one key, and its payments racing on one invoice, cause these).
BUSY_CODES = frozenset({"IDEMPOTENCY_KEY_IN_USE", "PAYMENT_IN_PROGRESS", "PAYMENT_PENDING"})
TRANSIENT_CODES = UNKNOWN_CODES | BUSY_CODES
TWO_DECIMALS = frozenset({"GBP", "EUR", "USD"})
MIX = (
    ("read", 40),
    ("pay_card", 20),
    ("pay_bank", 8),
    ("refund", 10),
    ("retry", 12),
    ("same_key", 5),
    ("pay_full", 2),
    ("new_invoice", 3),
)
REFERENCE = re.compile(r"Reference: [0-9a-f]+")
# At most this many keys are sent again at once after the faults (a client's backlog).
RETRY_CONCURRENCY = 16


@dataclass(frozen=True)
class Sample:
    """One request, for the timeline: when it started (s into the run), how long it took,
    whether it failed (no answer, a 5xx, GraphQL errors, or "outcome unknown, retry") and
    whether it was told "busy, retry" (its key or invoice held by another request)."""

    at: float
    operation: str
    latency_ms: float
    error: bool
    status: int
    busy: bool = False


@dataclass
class Ledger:
    started: float = field(default_factory=time.monotonic)
    samples: list[Sample] = field(default_factory=list)
    answers: list[Answer] = field(default_factory=list)
    sent: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    card_payments: list[str] = field(default_factory=list)
    pending: dict[str, float] = field(default_factory=dict)  # bank transfer -> when seen

    def now(self) -> float:
        return time.monotonic() - self.started

    def final_keys(self) -> set[str]:
        return {a.key for a in self.answers if a.final}


def payable_invoices() -> list[tuple[str, str]]:
    """(invoice id, currency) of the seed's open invoices of the business the workload's
    user owns, in currencies of two decimals (the payments are of "1.00")."""
    return [
        (inv.id, inv.currency)
        for inv in INVOICES
        if inv.status == "open"
        and inv.business_id == GB_BUSINESS_ID
        and inv.currency in TWO_DECIMALS
    ]


def classify(operation: str, key: str, at: float, status: int, body: Any) -> Answer:
    """A mutation's answer as the invariants see it."""
    payload = ((body or {}).get("data") or {}).get(operation) if status == 200 else None
    if not isinstance(payload, dict):
        return Answer(
            operation, key, at, final=False, signature=f"http {status}", codes=(f"http {status}",)
        )
    codes = sorted(e["code"] for e in payload.get("userErrors") or [])
    payment = payload.get("payment") or {}
    refund = payload.get("refund") or {}
    invoice = payload.get("invoice") or {}
    # A stored answer replayed is final, whatever it says.
    final = payload.get("replayed") is True or not (set(codes) & TRANSIENT_CODES)
    made = f"payment={payment.get('id')} refund={refund.get('id')} invoice={invoice.get('id')}"
    signature = f"{made} codes={codes}"
    payment_id = payment.get("id") if operation == "payInvoice" else None
    return Answer(operation, key, at, final, signature, payment_id, tuple(codes))


class Workload:
    def __init__(
        self,
        base_url: str,
        token: str,
        ledger: Ledger,
        *,
        mix: tuple[tuple[str, int], ...] = MIX,
        amount: str = "1.00",
        seed: int = 19,
    ) -> None:
        self.mix = mix
        self.amount = amount
        self.client = httpx.AsyncClient(
            base_url=base_url,
            timeout=20,
            trust_env=False,
            headers={"Authorization": f"Bearer {token}"},
            limits=httpx.Limits(max_connections=64),
        )
        self.ledger = ledger
        # Reproducible choices, not secrets.
        self.random = random.Random(seed)  # noqa: S311
        self.invoices = payable_invoices()
        self.errors: Counter[str] = Counter()  # GraphQL errors' messages, for the report

    async def close(self) -> None:
        await self.client.aclose()

    async def _post(self, operation: str, query: str, variables: dict[str, Any]) -> Any:
        at = self.ledger.now()
        began = time.monotonic()
        status, body = 0, None
        try:
            answer = await self.client.post(
                "/graphql", json={"query": query, "variables": variables}
            )
            status = answer.status_code
            body = answer.json() if "json" in answer.headers.get("content-type", "") else None
        except (httpx.HTTPError, ValueError):
            status = 0
        latency = (time.monotonic() - began) * 1000
        error = status != 200 or body is None or bool(body.get("errors"))
        for item in (body or {}).get("errors") or []:
            message = REFERENCE.sub("Reference: ...", str(item.get("message")))
            self.errors[f"{operation}: {message[:120]}"] += 1
        busy = False
        if operation in MUTATIONS:
            answer_ = classify(operation, variables["input"]["idempotencyKey"], at, status, body)
            error = error or bool(set(answer_.codes) & UNKNOWN_CODES)
            busy = bool(set(answer_.codes) & BUSY_CODES)
            self._keep(answer_, body)
        self.ledger.samples.append(Sample(at, operation, latency, error, status, busy))
        return body

    def _keep(self, answer: Answer, body: Any) -> None:
        self.ledger.answers.append(answer)
        if answer.operation == "finalizeInvoice" and answer.final:
            invoice = body["data"]["finalizeInvoice"]["invoice"] or {}
            if invoice.get("status") == "OPEN" and (invoice["id"], "GBP") not in self.invoices:
                self.invoices.append((invoice["id"], "GBP"))
        if answer.payment_id is None:
            return
        payment = body["data"]["payInvoice"]["payment"]
        if payment["status"] == "SUCCEEDED" and answer.payment_id not in self.ledger.card_payments:
            self.ledger.card_payments.append(answer.payment_id)
        if payment["status"] == "PENDING":
            self.ledger.pending.setdefault(answer.payment_id, self.ledger.now())

    async def send(self, key: str) -> Any:
        operation, variables = self.ledger.sent[key]
        return await self._post(operation, MUTATIONS[operation], variables)

    def _new(self, operation: str, fields: dict[str, Any]) -> str:
        key = f"chaos-{operation}-{uuid.uuid4().hex}"
        self.ledger.sent[key] = (operation, {"input": {"idempotencyKey": key, **fields}})
        return key

    async def new_invoice(self) -> None:
        """An invoice created and finalized (each with its key), then open for payments."""
        due = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=30)).isoformat()
        line = {"description": "Chaos run", "quantity": 1, "unitAmount": "250.00"}
        key = self._new(
            "createInvoice",
            {
                "businessId": GB_BUSINESS_ID,
                "customerId": GB_CUSTOMER_ID,
                "currency": "GBP",
                "dueDate": due,
                "lines": [line],
            },
        )
        body = await self.send(key)
        created = (((body or {}).get("data") or {}).get("createInvoice") or {}).get("invoice")
        if created:
            await self.send(self._new("finalizeInvoice", {"invoiceId": created["id"]}))

    def _new_pay(self, method: str, full: bool = False) -> str:
        invoice_id, currency = self.random.choice(self.invoices)
        if full and len(self.invoices) > 4:
            # Paid in full: no longer a target (its later payments would all be refused).
            self.invoices.remove((invoice_id, currency))
        amount = None if full else {"amount": self.amount, "currency": currency}
        fields = {"invoiceId": invoice_id, "amount": amount, "paymentMethod": method}
        return self._new("payInvoice", fields)

    def _new_refund(self) -> str | None:
        if not self.ledger.card_payments:
            return None
        payment_id = self.random.choice(self.ledger.card_payments)
        # All that is left: a second refund of the payment is refused, finally.
        return self._new("refundPayment", {"paymentId": payment_id, "amount": None})

    async def step(self) -> None:
        kinds, weights = zip(*self.mix, strict=True)
        kind = self.random.choices(kinds, weights)[0]
        if kind == "read":
            await self._post("read", DASHBOARD, {"id": GB_BUSINESS_ID})
        elif kind in ("pay_card", "pay_full"):
            await self.send(self._new_pay("pm_card_ok", full=kind == "pay_full"))
        elif kind == "pay_bank":
            await self.send(self._new_pay("pm_bank_transfer"))
        elif kind == "refund":
            key = self._new_refund()
            if key is not None:
                await self.send(key)
        elif kind == "retry" and self.ledger.sent:
            await self.send(self.random.choice(list(self.ledger.sent)))
        elif kind == "new_invoice":
            await self.new_invoice()
        elif kind == "same_key":
            key = self._new_pay("pm_card_ok")
            await asyncio.gather(*(self.send(key) for _ in range(3)))

    async def run(self, workers: int, stop: asyncio.Event) -> None:
        async def worker() -> None:
            while not stop.is_set():
                await self.step()

        await asyncio.gather(*(worker() for _ in range(workers)))

    async def settle_pending(self, settle_url: str, token: str, stop: asyncio.Event) -> None:
        """As a bank would: each bank transfer settles a few seconds after it was taken,
        most succeeding, one in five bouncing."""
        async with httpx.AsyncClient(
            timeout=5, trust_env=False, headers={"Authorization": f"Bearer {token}"}
        ) as admin:
            while not stop.is_set():
                await self.settle_due(admin, settle_url, older_than=5.0)
                await asyncio.sleep(1.0)

    async def settle_due(self, admin: httpx.AsyncClient, settle_url: str, older_than: float) -> int:
        settled = 0
        for payment_id, seen in list(self.ledger.pending.items()):
            if self.ledger.now() - seen < older_than:
                continue
            status = "failed" if self.random.random() < 0.2 else "succeeded"
            try:
                answer = await admin.post(
                    f"{settle_url}/_sandbox/payments/{payment_id}/settle", json={"status": status}
                )
            except httpx.HTTPError:
                continue
            if answer.status_code in (200, 409):
                self.ledger.pending.pop(payment_id, None)
                settled += 1
        return settled

    async def finish(self, deadline_seconds: float) -> list[str]:
        """Each key still without a final answer, retried every 2 s until it has one or
        the deadline passes; the keys that never got one."""
        deadline = time.monotonic() + deadline_seconds
        limit = asyncio.Semaphore(RETRY_CONCURRENCY)

        async def again(key: str) -> None:
            async with limit:
                await self.send(key)

        while True:
            open_keys = sorted(set(self.ledger.sent) - self.ledger.final_keys())
            if not open_keys or time.monotonic() > deadline:
                return open_keys
            await asyncio.gather(*(again(key) for key in open_keys))
            await asyncio.sleep(2.0)
