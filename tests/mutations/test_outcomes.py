"""Mutation problem codes are one enum (ProblemCode) from the service to the schema: the
public UserErrorCode mirrors it name for name, so a code the services can produce always
has a public value, and the schema offers none the services never produce."""

from __future__ import annotations

from app.mutations.outcomes import Outcome, ProblemCode, UserProblem, problem
from app.schema.types.payloads import UserErrorCode


def test_the_public_user_error_codes_mirror_the_problem_codes() -> None:
    assert [code.name for code in UserErrorCode] == [code.name for code in ProblemCode]
    assert all(code.value == code.name for code in ProblemCode)


def test_a_stored_outcome_keeps_its_codes_through_a_replay() -> None:
    # given an outcome as the idempotency store keeps it
    outcome = problem(ProblemCode.AMOUNT_EXCEEDS_DUE, "Too much.", "input", "amount")
    outcome.business_id = "biz_GBdemo"
    stored = outcome.to_result()

    # when it is replayed
    replayed = Outcome.from_result(stored)

    # then the code is the enum member again, and the stored form is its plain name
    assert stored["userErrors"] == [
        {"code": "AMOUNT_EXCEEDS_DUE", "message": "Too much.", "field": ["input", "amount"]}
    ]
    assert replayed.problems == [
        UserProblem(ProblemCode.AMOUNT_EXCEEDS_DUE, "Too much.", ("input", "amount"))
    ]
    assert replayed.replayed is True
    # with the business it was done in, so that the replay is authorized again
    assert (stored["businessId"], replayed.business_id) == ("biz_GBdemo", "biz_GBdemo")


def test_a_result_stored_before_businesses_were_kept_still_replays() -> None:
    stored = {
        "objects": {},
        "userErrors": [{"code": "NOT_FOUND", "message": "Not found.", "field": None}],
    }

    replayed = Outcome.from_result(stored)

    assert replayed.business_id is None
    assert replayed.problems == [UserProblem(ProblemCode.NOT_FOUND, "Not found.", None)]
