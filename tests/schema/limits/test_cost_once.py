"""The cost walk runs once per request: admission's weight and the validation step ask
DocumentChecks.cost with the same inputs, and the second gets the first's analysis. Other
variables, another operation or another document are worked out afresh; an analysis with
errors is never handed to another request."""

from __future__ import annotations

from typing import Any

import pytest

import app.schema.limits.extension
from app.schema.limits.cost import CostAnalysis, analyse_cost
from tests.schema.limits.test_weigh import NESTED, rig


class CountingWalk:
    def __init__(self) -> None:
        self.walks = 0

    def __call__(self, *args: Any, **kwargs: Any) -> CostAnalysis:
        self.walks += 1
        return analyse_cost(*args, **kwargs)


@pytest.fixture
def walk(monkeypatch: pytest.MonkeyPatch) -> CountingWalk:
    counting = CountingWalk()
    monkeypatch.setattr(app.schema.limits.extension, "analyse_cost", counting)
    return counting


async def test_weighing_then_executing_walks_the_document_once(walk: CountingWalk) -> None:
    weigh, _, schema = rig()

    weight = weigh(NESTED, "Q", {"n": 20})
    result = await schema.execute(NESTED, variable_values={"n": 20}, operation_name="Q")

    assert weight == 22
    assert walk.walks == 1
    # (it then fails for want of a context, after the limits passed)
    assert not any("too complex" in str(error) for error in result.errors or [])


def test_other_variables_are_worked_out_afresh(walk: CountingWalk) -> None:
    weigh, _, _ = rig()

    assert weigh(NESTED, "Q", {"n": 20}) == 22
    assert weigh(NESTED, "Q", {"n": 30}) == 32
    assert weigh(NESTED, "Q", {"n": 20}) == 22

    assert walk.walks == 2


def test_an_analysis_with_errors_is_never_kept(walk: CountingWalk) -> None:
    _, checks, schema = rig()
    document = checks.parse(NESTED)

    first = checks.cost(schema._schema, document, {"n": 500}, "Q")
    second = checks.cost(schema._schema, document, {"n": 500}, "Q")

    assert first.page_size_errors
    assert second.page_size_errors
    assert first.page_size_errors[0] is not second.page_size_errors[0]
    assert walk.walks == 2


def test_large_or_unencodable_variables_are_worked_out_each_time(walk: CountingWalk) -> None:
    _, checks, schema = rig()
    document = checks.parse(NESTED)
    large = {"n": 20, "pad": "x" * 2000}

    for variables in (large, large, {"n": 20, "odd": object()}, {"n": 20, "odd": object()}):
        assert checks.cost(schema._schema, document, variables, "Q").cost == 22

    assert walk.walks == 4


def test_only_the_last_64_are_remembered(walk: CountingWalk) -> None:
    _, checks, schema = rig()
    document = checks.parse(NESTED)

    for n in range(1, 66):
        checks.cost(schema._schema, document, {"n": n}, "Q")
    checks.cost(schema._schema, document, {"n": 65}, "Q")  # still kept
    checks.cost(schema._schema, document, {"n": 1}, "Q")  # dropped, worked out again

    assert walk.walks == 66
