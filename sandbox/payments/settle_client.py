"""`python -m sandbox settle`: settle a pending payment of a running payments sandbox.

Talks to the sandbox's admin route (sandbox/payments/admin.py) over HTTP, as a developer
would with curl while `make run` runs, and words the outcome for a terminal.
"""

from __future__ import annotations

from typing import Any

import httpx

from sandbox.common.money import EXPONENTS


class SettleError(Exception):
    """The payment was not settled; the message says why, for a terminal."""


def major(amount: int, currency: str) -> str:
    """Minor units as a major-unit string, e.g. 61241 GBP -> "GBP 612.41"."""
    exponent = EXPONENTS[currency]
    if exponent == 0:
        return f"{currency} {amount}"
    whole, fraction = divmod(amount, 10**exponent)
    return f"{currency} {whole}.{fraction:0{exponent}d}"


def describe(payment: dict[str, Any]) -> str:
    """One line saying what settling did to the payment and to the balance."""
    money = major(payment["amount"], payment["currency"])
    where = f"{money} for {payment['invoice_id']} of {payment['business_id']}"
    if payment["status"] == "succeeded":
        return f"{payment['id']} settled: succeeded, {where} moved from pending to available"
    return (
        f"{payment['id']} settled: failed ({payment['failure_code']}), "
        f"{where} left the pending balance"
    )


def settle_remote(
    url: str,
    token: str,
    payment_id: str,
    status: str,
    failure_code: str | None = None,
    *,
    timeout: float = 10.0,
) -> dict[str, Any]:
    """POST /_sandbox/payments/{payment_id}/settle; the settled payment's JSON."""
    body: dict[str, Any] = {"status": status}
    if failure_code is not None:
        body["failure_code"] = failure_code
    target = f"{url.rstrip('/')}/_sandbox/payments/{payment_id}/settle"
    try:
        # trust_env off: a developer's HTTP(S)_PROXY must not capture a loopback call.
        with httpx.Client(trust_env=False, timeout=timeout) as client:
            response = client.post(target, json=body, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise SettleError(
            f"cannot reach the payments sandbox at {url} ({exc.__class__.__name__}); "
            "is `make run` (or `python -m sandbox payments`) running?"
        ) from None
    payload = _json(response)
    if response.status_code == 200 and isinstance(payload, dict):
        return payload
    raise SettleError(_refusal(response.status_code, payload))


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _refusal(status: int, payload: Any) -> str:
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return f"the payments sandbox answered HTTP {status} without an error envelope"
    text = f"{status} {error.get('code')}: {error.get('message')}"
    if status == 401:
        text += " (pass the sandbox's service token with --token)"
    elif status == 404 and error.get("param") is None:
        text += " (is the sandbox's admin surface off? it is started with --no-admin)"
    return text
