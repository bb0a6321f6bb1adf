"""`python -m app reconcile` over two regions: each region's watched businesses are
reconciled against its own payment_watch table, and a business named on the command line
goes to its country's region."""

from __future__ import annotations

import pytest

from app.cli import build_parser
from app.cli import reconcile as command
from app.core.settings import load_settings
from app.reconcile.opener import open_for_reconcile
from sandbox.seed import GB_BUSINESS_ID, GB_OPEN_INVOICE_ID, IN_BUSINESS_ID, IN_OPEN_INVOICE_ID
from tests.mutations.helpers import codes, pay
from tests.reconcile.test_reconcile_command import environment
from tests.residency.conftest import Gateway, GatewayFactory


async def reconcile(
    gateway: Gateway, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, str]:
    args = build_parser().parse_args(["reconcile", *flags])
    code = await command.execute(args, transports=gateway.transports)
    return code, capsys.readouterr().out.splitlines()[0]


async def test_each_region_s_watched_businesses_are_reconciled_with_their_own_table(
    region_databases: dict[str, str],
    gateway_factory: GatewayFactory,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # given a pending bank transfer of each business, each watched in its own region
    gateway = await gateway_factory(region_databases)
    for key, invoice in (("gb-t", GB_OPEN_INVOICE_ID), ("in-t", IN_OPEN_INVOICE_ID)):
        taken = await pay(gateway.client, gateway.token, key, invoice, method="pm_bank_transfer")
        assert codes(taken) == [], taken
    environment(monkeypatch, gateway.settings)
    monkeypatch.setenv("DATABASE_URL_GB", region_databases["GB"])
    monkeypatch.setenv("DATABASE_URL_IN", region_databases["IN"])

    # when nothing is named, then both regions' watched businesses are reconciled
    _, first = await reconcile(gateway, capsys)
    assert first == f"reconciled 2 businesses: {GB_BUSINESS_ID}, {IN_BUSINESS_ID}"

    # when businesses are named, then each goes to its country's region
    async with open_for_reconcile(load_settings(), gateway.transports) as opened:
        placed = await opened.place([IN_BUSINESS_ID, GB_BUSINESS_ID])
    assert {r.jurisdictions: ids for r, ids in placed.items()} == {
        ("IN",): [IN_BUSINESS_ID],
        ("GB",): [GB_BUSINESS_ID],
    }
    _, first = await reconcile(gateway, capsys, "--business", IN_BUSINESS_ID)
    assert first == f"reconciled 1 business: {IN_BUSINESS_ID}"
