"""A reconciliation rendered for people (an aligned table) and for programs (JSON with
stable keys, every key always present; amounts are integers in minor units beside their
currency, never floats)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from app.core.money import to_major_string
from app.reconcile.drift import Finding, counts
from app.reconcile.runner import Reconciliation, Repair

FINDING_COLUMNS = ("KIND", "BUSINESS", "INVOICE", "PAYMENT", "AMOUNT", "CURRENCY", "OWNED", "NOTE")
REPAIR_COLUMNS = ("BUSINESS", "INVOICE", "PAYMENT", "AMOUNT", "CURRENCY", "OUTCOME")
_RIGHT = frozenset({"AMOUNT"})


def to_json(result: Reconciliation) -> str:
    document = {
        "businesses": result.businesses,
        "drift": result.drift,
        "counts": counts(result.findings),
        "findings": [finding_json(f) for f in result.findings],
        "repairs": [repair_json(r) for r in result.repairs],
        "incomplete": [
            {"business_id": business_id, "reason": reason}
            for business_id, reason in result.incomplete
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def finding_json(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind,
        "business_id": finding.business_id,
        "invoice_id": finding.invoice_id,
        "payment_id": finding.payment_id,
        "amount": finding.amount,
        "currency": finding.currency,
        "payment_status": finding.payment_status,
        "owned": finding.owned,
        "watch_state": finding.watch_state,
        "invoice_total": finding.invoice_total,
        "invoice_amount_paid": finding.invoice_amount_paid,
        "collected": finding.collected,
        "age_seconds": finding.age_seconds,
        "note": finding.note,
    }


def repair_json(repair: Repair) -> dict[str, Any]:
    return {
        "business_id": repair.business_id,
        "invoice_id": repair.invoice_id,
        "payment_id": repair.payment_id,
        "amount": repair.amount,
        "currency": repair.currency,
        "outcome": repair.outcome,
    }


def to_table(result: Reconciliation) -> str:
    count = len(result.businesses)
    lines = [
        f"reconciled {count} business{'' if count == 1 else 'es'}: "
        + (", ".join(result.businesses) or "none")
    ]
    if result.repairs:
        lines += ["", "repaired (payments the gateway took, moved on by the settler's step):"]
        lines += table(REPAIR_COLUMNS, [_repair_row(r) for r in result.repairs])
    if result.findings:
        lines += [""]
        lines += table(FINDING_COLUMNS, [_finding_row(f) for f in result.findings])
    if result.incomplete:
        lines += ["", "not read in full:"]
        lines += [f"  {business_id}: {reason}" for business_id, reason in result.incomplete]
    tally = counts(result.findings)
    if result.drift:
        summary = ", ".join(f"{kind} {n}" for kind, n in tally.items())
        lines += ["", f"drift: {len(result.findings)} findings ({summary})"]
    else:
        lines += ["", "no drift" + (" in what was read" if result.incomplete else "")]
    return "\n".join(lines) + "\n"


def table(columns: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Aligned columns, two spaces apart; amounts right-aligned; no trailing spaces."""
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows, strict=True)]
    lines = []
    for row in (columns, *rows):
        cells = [
            cell.rjust(width) if name in _RIGHT else cell.ljust(width)
            for name, cell, width in zip(columns, row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


def _amount(amount: int | None, currency: str) -> str:
    return "-" if amount is None else to_major_string(amount, currency)


def _finding_row(finding: Finding) -> list[str]:
    owned = f"yes ({finding.watch_state})" if finding.owned else "no"
    return [
        finding.kind,
        finding.business_id,
        finding.invoice_id,
        finding.payment_id or "-",
        _amount(finding.amount, finding.currency),
        finding.currency,
        owned if finding.payment_id else "-",
        finding.note,
    ]


def _repair_row(repair: Repair) -> list[str]:
    return [
        repair.business_id,
        repair.invoice_id,
        repair.payment_id,
        _amount(repair.amount, repair.currency),
        repair.currency,
        repair.outcome,
    ]
