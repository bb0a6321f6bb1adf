"""The Apollo peer (bench/peers/apollo/) is held to the gateway's job: its schema is the
gateway's own, cut to what the scenarios read; its money and time text is the gateway's;
its answers must equal the gateway's or the run is void; and the report judges the
gateway against it. Fast: no server is started (a bench run does that, and checks each
scenario's answer and downstream calls there)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema, parse, validate
from pydantic import TypeAdapter, ValidationError

import bench.__main__ as bench_main
from app.core.money import format_money, to_major_string
from app.downstream.models import Invoice, Timestamp
from bench import peer
from bench.baseline_reads import timestamp
from bench.report import budget, markdown, ratios
from bench.run import Plan, Runner, VoidRunError
from bench.scenarios import DASHBOARD, INVOICE_DETAIL, NODES, SCENARIOS
from tests.bench.test_harness import scenario_with, target

REPO = Path(__file__).parents[2]
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed")


def test_the_peer_is_installed_from_a_committed_lock_and_its_packages_stay_out_of_git() -> None:
    lock = json.loads((peer.ROOT / "package-lock.json").read_text())
    package = json.loads((peer.ROOT / "package.json").read_text())

    installed = lock["packages"]
    assert lock["lockfileVersion"] >= 3
    assert installed["node_modules/@apollo/server"]["version"].startswith("5.")
    for name in ("dataloader", "jose", "graphql", "undici"):
        assert name in package["dependencies"]
        assert installed[f"node_modules/{name}"]["integrity"].startswith("sha512-")
    ignored = subprocess.run(  # noqa: S603 - fixed argv
        ["git", "check-ignore", "-q", str(peer.ROOT / "node_modules" / "x")],  # noqa: S607
        cwd=REPO,
        check=False,
    )
    assert ignored.returncode == 0


def test_the_peers_schema_is_the_gateways_cut_to_what_the_scenarios_read() -> None:
    committed = peer.SCHEMA.read_text("utf-8")

    # `python -m bench.peer` rewrites it; a change to the gateway's schema shows here.
    assert committed == peer.subset_sdl()
    mine = build_schema(committed)
    gateway = build_schema(peer.GATEWAY_SCHEMA.read_text("utf-8"))
    for name, own in mine.type_map.items():
        if name.startswith("__") or not hasattr(own, "fields"):
            continue
        theirs = gateway.type_map[name]
        for field_name, field in own.fields.items():
            other = theirs.fields[field_name]  # type: ignore[attr-defined]
            assert str(field.type) == str(other.type), f"{name}.{field_name}"
            assert {a: str(v.type) for a, v in field.args.items()} == {
                a: str(v.type) for a, v in other.args.items()
            }
    for key in peer.SCENARIO_KEYS:
        assert validate(mine, parse(SCENARIOS[key].query)) == []
    # Only what is read: the business's customers and country are not served.
    business = mine.type_map["Business"]
    assert "customers" not in business.fields  # type: ignore[attr-defined]
    assert "country" not in business.fields  # type: ignore[attr-defined]


def test_the_subset_keeps_reached_fields_arguments_and_interfaces_only() -> None:
    sdl = """
    interface Node { id: ID! }
    type Query { thing(id: ID!): Thing  other: Other  node(id: ID!): Node }
    type Thing implements Node {
      id: ID!  "kept" name(upper: Boolean = false): String  secret: String
    }
    type Other { x: Int }
    enum Unused { A }
    """

    subset = peer.subset_sdl(sdl, ["query { thing(id: 1) { id name } node(id: 2) { id } }"])

    schema = build_schema(subset)
    assert set(schema.query_type.fields) == {"thing", "node"}  # type: ignore[union-attr]
    thing = schema.type_map["Thing"]
    assert set(thing.fields) == {"id", "name"}  # type: ignore[attr-defined]
    assert "name(upper: Boolean = false): String" in subset
    assert thing.fields["name"].description == "kept"  # type: ignore[attr-defined]
    assert [i.name for i in thing.interfaces] == ["Node"]  # type: ignore[attr-defined]
    assert "Other" not in schema.type_map
    assert "Unused" not in schema.type_map
    # An interface no document reaches goes, and with it the `implements`.
    alone = build_schema(peer.subset_sdl(sdl, ["query { thing(id: 1) { id } }"]))
    assert "Node" not in alone.type_map
    assert alone.type_map["Thing"].interfaces == ()  # type: ignore[attr-defined]


def test_answers_equal_as_data_pass_and_the_first_difference_is_named() -> None:
    gateway = {"business": {"id": "biz_1", "invoices": [{"a": 1, "b": "x"}]}}

    assert (
        peer.data_difference(
            gateway, {"business": {"invoices": [{"b": "x", "a": 1}], "id": "biz_1"}}
        )
        is None
    )
    assert peer.data_difference(
        gateway, {"business": {"id": "biz_1", "invoices": [{"a": 1, "b": "y"}]}}
    ) == ("data.business.invoices[0].b: gateway 'x', peer 'y'")
    assert "missing in the peer's answer" in str(
        peer.data_difference(gateway, {"business": {"id": "biz_1"}})
    )
    assert "1 items in the gateway's answer, 0 in the peer's" in str(
        peer.data_difference(gateway, {"business": {"id": "biz_1", "invoices": []}})
    )
    # "1" is not 1, and 1 is not True: a JSON answer's types are part of it.
    assert peer.data_difference({"n": 1}, {"n": "1"}) is not None
    assert peer.data_difference({"n": 1}, {"n": True}) is not None


class _Stack:
    def owner_token(self) -> str:
        return "token"


def test_a_peer_answer_other_than_the_gateways_voids_the_run(tmp_path: Path) -> None:
    runner = Runner(_Stack(), Plan.quick(), tmp_path, ["a"])  # type: ignore[arg-type]
    with pytest.raises(VoidRunError, match="no gateway answer"):
        runner.check_same_data(DASHBOARD, {"business": None})
    runner.gateway_data["a"] = {"business": {"id": "biz_1", "name": "Acme"}}

    runner.check_same_data(DASHBOARD, {"business": {"name": "Acme", "id": "biz_1"}})
    with pytest.raises(VoidRunError, match=r"differs from the gateway's: data\.business\.name"):
        runner.check_same_data(DASHBOARD, {"business": {"id": "biz_1", "name": "Acme Ltd"}})


def _with_peer(gateway_rate: float, peer_rate: float) -> dict[str, Any]:
    scenario = scenario_with(target(30, 12), target(100, 10))
    scenario["targets"]["apollo"] = target(peer_rate, 11)
    scenario["targets"]["gateway"] = target(gateway_rate, 12)
    scenario["ratios"] = ratios(scenario["targets"]["gateway"], scenario["targets"]["baseline"])
    scenario["ratios_to_peer"] = ratios(
        scenario["targets"]["gateway"], scenario["targets"]["apollo"]
    )
    return scenario


def test_the_table_has_the_peers_row_and_the_gateways_ratio_to_it() -> None:
    scenario = _with_peer(30, 60)
    scenario["budget"] = budget(scenario, None)
    report = {
        "started": "now",
        "commit": "abc",
        "machine": {
            "cpu": "cpu",
            "cpus": 2,
            "memory_gb": 1.0,
            "python": "3.11",
            "loadavg_at_start": "0",
        },
        "settings": {"latency_ms": 5, "quick": True, "pinning": "none"},
        "scenarios": {"a": scenario},
        "problems": [],
    }

    text = markdown(report)

    assert "| a) dashboard | apollo | 60 |" in text
    # Requests/s 30 / 60, p50 12 / 11 ms.
    assert "| a) dashboard | **gateway ÷ apollo** | 0.50× | 1.09× / 1.09× |" in text
    assert "| a) dashboard | **gateway ÷ baseline** | 0.30× |" in text
    assert "FAIL throughput ahead of the apollo peer (0.50)" in text


def test_the_budget_asks_the_gateway_to_be_ahead_of_the_peer_only_where_it_ran() -> None:
    assert budget(_with_peer(61, 60), None)["throughput_ahead_of_the_apollo_peer"]["ok"] is True
    assert budget(_with_peer(60, 60), None)["throughput_ahead_of_the_apollo_peer"]["ok"] is False
    alone = scenario_with(target(30, 12), target(100, 10))
    assert "throughput_ahead_of_the_apollo_peer" not in budget(alone, None)


def _fake_node(directory: Path, version: str) -> None:
    node = directory / "node"
    node.write_text(f"#!/bin/sh\necho {version}\n")
    node.chmod(0o755)


def test_the_peer_is_left_out_with_a_reason_when_node_cannot_run_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert "node is not installed" in str(peer.node_problem())

    _fake_node(tmp_path, "v18.19.0")
    assert "v18.19.0 is too old" in str(peer.node_problem())

    _fake_node(tmp_path, "v20.20.2")
    monkeypatch.setattr(peer, "ROOT", tmp_path / "apollo")
    assert "make bench-peer-deps" in str(peer.node_problem())

    (tmp_path / "apollo" / "node_modules" / "@apollo" / "server").mkdir(parents=True)
    assert peer.node_problem() is None


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_make_target_says_so_when_node_is_missing(tmp_path: Path) -> None:
    for tool in ("make", "sh"):
        found = shutil.which(tool)
        assert found is not None
        (tmp_path / tool).symlink_to(found)

    done = subprocess.run(  # noqa: S603 - fixed argv
        [str(tmp_path / "make"), "-s", "bench-peer-deps"],
        cwd=REPO,
        env={**os.environ, "PATH": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    assert "node or npm not found; the Apollo peer is skipped" in done.stdout


MONEY_CASES = [
    (0, "GBP"),
    (5, "GBP"),
    (123456789, "GBP"),
    (-1250, "EUR"),
    (1250000000, "INR"),
    (999, "JPY"),
    (1234567, "JPY"),
    (1, "KWD"),
    (-12345678, "KWD"),
    (100000, "USD"),
]
TIME_CASES = [
    "2026-01-02T09:05:00Z",
    "2026-01-02T09:05:00.5+01:30",
    "2026-12-31T23:59:60.25Z",
    "2026-03-01T00:00:00.123456789-05:00",
    "2026-06-01t10:00:00.000000z",
    "2026-06-01T10:00:00.0000004Z",
]


@needs_node
def test_the_peers_money_and_time_text_is_the_gateways() -> None:
    script = (
        "import('./src/money.mjs').then((m) => { const cases = JSON.parse(process.argv[1]);"
        "console.log(JSON.stringify({money: cases.money.map(([a, c]) => [m.toMajor(a, c), "
        "m.formatMoney(a, c)]), time: cases.time.map(m.utcTimestamp)})); })"
    )
    cases = json.dumps({"money": MONEY_CASES, "time": TIME_CASES})

    done = subprocess.run(  # noqa: S603 - node from PATH, fixed script
        [str(NODE), "-e", script, cases], cwd=peer.ROOT, capture_output=True, text=True, check=True
    )

    answer = json.loads(done.stdout)
    assert answer["money"] == [[to_major_string(a, c), format_money(a, c)] for a, c in MONEY_CASES]
    # The gateway's way: the contract model's parse, then UTC in the DateTime scalar's form.
    expected_times = [timestamp(TypeAdapter(Timestamp).validate_python(t)) for t in TIME_CASES]
    assert answer["time"] == expected_times


def test_the_peer_serves_the_read_scenarios_only() -> None:
    served = [SCENARIOS[k] for k in peer.SCENARIO_KEYS]
    assert served == [DASHBOARD, INVOICE_DETAIL, NODES]
    assert not any(scenario.writes for scenario in served)


INVOICE = {
    "id": "inv_1",
    "object": "invoice",
    "business_id": "biz_1",
    "customer_id": "cus_1",
    "number": "INV-1",
    "status": "open",
    "currency": "GBP",
    "lines": [{"description": "Work", "quantity": 3, "unit_amount": 1001, "amount": 3003}],
    "tax_rate_bps": 2000,
    "subtotal": 3003,
    "tax": 601,
    "total": 3604,
    "amount_paid": 0,
    "amount_due": 3604,
    "due_date": "2026-02-01",
    "created_at": "2026-01-02T09:05:00Z",
    "updated_at": "2026-01-02T09:05:00Z",
}


@needs_node
def test_the_peer_leaves_out_objects_that_break_the_contract_as_the_gateway_does() -> None:
    cases = [
        INVOICE,
        {**INVOICE, "total": 3604.0 + 0.5},  # a float
        {**INVOICE, "total": "3604"},  # a numeric string
        {**INVOICE, "tax": 600, "total": 3603, "amount_due": 3603},  # tax not half-even
        {**INVOICE, "status": "lost"},  # not an enum value
        {**INVOICE, "id": "inv_1,inv_2"},  # not an id
        {**INVOICE, "due_date": "1 Feb 2026"},  # not a full-date
    ]
    script = (
        "import('./src/contract.mjs').then((c) => console.log(JSON.stringify("
        "JSON.parse(process.argv[1]).map((i) => c.CONTRACT.invoice(i)))))"
    )

    done = subprocess.run(  # noqa: S603 - node from PATH, fixed script
        [str(NODE), "-e", script, json.dumps(cases)],
        cwd=peer.ROOT,
        capture_output=True,
        text=True,
        check=True,
    )

    kept = json.loads(done.stdout)
    assert kept == [True, False, False, False, False, False, False]
    # The gateway's own model agrees on every case.
    for case, peer_kept in zip(cases, kept, strict=True):
        try:
            Invoice.model_validate_json(json.dumps(case))
            gateway_kept = True
        except ValidationError:
            gateway_kept = False
        assert gateway_kept is peer_kept, case


class _PeerStack(_Stack):
    def __init__(self) -> None:
        self.started = 0

    def start_peer(self) -> str:
        self.started += 1
        return "apollo server"


@pytest.mark.parametrize(
    ("argv", "problem", "started"),
    [
        ([], None, True),
        (["--no-peer"], None, False),
        (["--scenarios", "d"], None, False),  # payInvoice only: nothing for the peer
        ([], "node is not installed", False),
    ],
)
def test_a_run_starts_the_peer_only_when_asked_able_and_useful(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    problem: str | None,
    started: bool,
) -> None:
    monkeypatch.setattr(peer, "node_problem", lambda: problem)
    args = bench_main.parse_args(argv)
    stack = _PeerStack()
    runner = Runner(stack, Plan.quick(), tmp_path, ["a"])  # type: ignore[arg-type]

    server = bench_main._start_peer(stack, runner, args, list(args.scenarios))  # type: ignore[arg-type]

    assert (server is not None) is started
    assert stack.started == int(started)
    # A machine that cannot run the peer still gets its table, with the reason in it.
    assert runner.problems == ([f"the Apollo peer did not run: {problem}"] if problem else [])
