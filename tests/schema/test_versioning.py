"""The public schema is versioned: app/schema/schema.graphql is the code's schema, and a
change that breaks it is refused unless acknowledged in the reviewed file. The checks
are proven on synthetic schemas: a renamed field, a removed enum value, a new required
argument; refused without an acknowledgement, accepted with one."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.cli import main
from app.schema import versioning as schema_versioning
from app.schema.versioning import (
    ACKNOWLEDGED_FILE,
    SCHEMA_FILE,
    acknowledged,
    breaking_changes,
    check_schema,
    current_sdl,
    review,
    write_schema,
)

ROOT = Path(__file__).parents[2]

COMMITTED = '''
"""Root."""
type Query {
  """An invoice."""
  invoice(id: ID!): Invoice
}

"""A bill."""
type Invoice {
  """Its number."""
  number: String!
  """Its status."""
  status: Status!
}

"""Where an invoice is."""
enum Status {
  """Open."""
  OPEN
  """Paid."""
  PAID
}
'''
PAID = '  """Paid."""\n  PAID\n'


def test_the_committed_sdl_is_the_codes_schema() -> None:
    committed = (ROOT / SCHEMA_FILE).read_text()

    assert schema_versioning.drift(committed, current_sdl()) == [], (
        f"{SCHEMA_FILE} is out of date: run `make schema` and review the diff"
    )


def test_the_committed_schema_passes_the_whole_check() -> None:
    assert check_schema(ROOT) == []


def test_every_acknowledgement_line_has_the_shape_the_check_prints() -> None:
    for line in acknowledged((ROOT / ACKNOWLEDGED_FILE).read_text()):
        kind, _, description = line.partition(": ")
        assert kind.isupper(), line
        assert description.endswith("."), line


def test_a_description_change_is_drift_but_not_a_break() -> None:
    changed = COMMITTED.replace('"""Its number."""', '"""Its number, e.g. INV-000042."""')

    outcome = review(COMMITTED, changed, "")

    assert outcome.diff != []
    assert outcome.unacknowledged == []
    assert outcome.problems == [f"{SCHEMA_FILE} is not the code's schema; run `make schema`"]


def test_an_added_field_or_deprecation_is_not_a_break() -> None:
    grown = COMMITTED.replace(
        "  number: String!\n",
        '  number: String! @deprecated(reason: "Use reference.")\n'
        '  """Its reference."""\n  reference: String\n',
    )

    assert breaking_changes(COMMITTED, grown) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ("  number: String!", "  invoiceNumber: String!"),
            "FIELD_REMOVED: Field Invoice.number was removed.",
        ),
        (
            (PAID, ""),
            "VALUE_REMOVED_FROM_ENUM: Enum value Status.PAID was removed.",
        ),
        (
            ("invoice(id: ID!)", "invoice(id: ID!, businessId: ID!)"),
            "REQUIRED_ARG_ADDED: A required argument Query.invoice(businessId:) was added.",
        ),
        (
            ("  status: Status!", "  status: String!"),
            "FIELD_CHANGED_KIND: Field Invoice.status changed type from Status! to String!.",
        ),
    ],
)
def test_a_break_is_refused_until_acknowledged(change: tuple[str, str], expected: str) -> None:
    broken = COMMITTED.replace(*change)

    refused = review(COMMITTED, broken, "")
    accepted = review(COMMITTED, broken, f"# reviewed: clients told\n{expected}\n")

    assert refused.unacknowledged == [expected]
    assert f"breaking change not acknowledged: {expected}" in refused.problems
    assert accepted.unacknowledged == []


def test_an_acknowledgement_covers_only_the_break_it_names() -> None:
    broken = COMMITTED.replace("  number: String!", "  ref: String!").replace(PAID, "")

    outcome = review(COMMITTED, broken, "FIELD_REMOVED: Field Invoice.number was removed.\n")

    assert outcome.unacknowledged == [
        "VALUE_REMOVED_FROM_ENUM: Enum value Status.PAID was removed."
    ]


def test_comments_and_blank_lines_acknowledge_nothing() -> None:
    text = "# FIELD_REMOVED: Field Invoice.number was removed.\n\n   \n"

    assert acknowledged(text) == set()


def _repository(tmp_path: Path, committed: str, acknowledgements: str | None = None) -> Path:
    (tmp_path / SCHEMA_FILE).parent.mkdir(parents=True)
    (tmp_path / SCHEMA_FILE).write_text(committed)
    if acknowledgements is not None:
        (tmp_path / ACKNOWLEDGED_FILE).write_text(acknowledgements)
    return tmp_path


def _renamed_field_sdl() -> tuple[str, str]:
    """A committed SDL whose Invoice.number the code has "renamed" (it no longer has
    `invoiceNumber`): the code's schema removes a field the committed one has."""
    current = current_sdl()
    committed = current.replace(
        "  number: String!\n", "  number: String!\n\n  invoiceNumber: String!\n", 1
    )
    return committed, "FIELD_REMOVED: Field Invoice.invoiceNumber was removed."


def test_make_schema_refuses_to_record_an_unacknowledged_break(tmp_path: Path) -> None:
    committed, expected = _renamed_field_sdl()
    root = _repository(tmp_path, committed)

    assert write_schema(root) == [f"breaking change not acknowledged: {expected}"]
    assert (root / SCHEMA_FILE).read_text() == committed
    assert check_schema(root) == [
        f"breaking change not acknowledged: {expected}",
        f"{SCHEMA_FILE} is not the code's schema; run `make schema`",
    ]


def test_make_schema_records_an_acknowledged_break(tmp_path: Path) -> None:
    committed, expected = _renamed_field_sdl()
    root = _repository(tmp_path, committed, f"# approved in review\n{expected}\n")

    assert write_schema(root) == []
    assert (root / SCHEMA_FILE).read_text() == current_sdl()
    assert check_schema(root) == []


def test_a_committed_file_that_is_not_sdl_is_reported_and_not_overwritten(
    tmp_path: Path,
) -> None:
    root = _repository(tmp_path, "type Query {")

    assert write_schema(root) == [
        f"{SCHEMA_FILE} is not valid SDL (restore it from git): "
        "Syntax Error: Expected Name, found <EOF>."
    ]
    assert (root / SCHEMA_FILE).read_text() == "type Query {"


def test_a_missing_schema_file_is_written_fresh_and_checked_as_missing(tmp_path: Path) -> None:
    (tmp_path / SCHEMA_FILE).parent.mkdir(parents=True)

    assert check_schema(tmp_path) == [f"{SCHEMA_FILE} is missing; run `make schema`"]
    assert write_schema(tmp_path) == []
    assert check_schema(tmp_path) == []


def test_the_command_prints_writes_and_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / SCHEMA_FILE).parent.mkdir(parents=True)

    assert main(["schema"]) == 0
    assert capsys.readouterr().out == current_sdl()
    assert main(["schema", "--check", "--root", str(tmp_path)]) == 1
    assert "is missing" in capsys.readouterr().err
    assert main(["schema", "--write", "--root", str(tmp_path)]) == 0
    assert main(["schema", "--check", "--root", str(tmp_path)]) == 0


def test_the_command_refuses_an_unacknowledged_break_and_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    committed, expected = _renamed_field_sdl()
    root = _repository(tmp_path, committed)

    assert main(["schema", "--write", "--root", str(root)]) == 1

    err = capsys.readouterr().err
    assert f"breaking change not acknowledged: {expected}" in err
    assert str(ACKNOWLEDGED_FILE) in err
