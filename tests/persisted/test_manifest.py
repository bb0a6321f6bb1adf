"""`python -m app manifest`: builds a client's trusted documents from `.graphql` files,
checked against the gateway's schema, and the manifest loader's own checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.cli import main
from app.cli.manifest import update_manifest
from app.persisted import document_hash
from app.persisted.manifest import ManifestError, load_manifest, parse_manifest

REPO = Path(__file__).resolve().parents[2]
CLIENTS = REPO / "clients"

VIEWER = "query Viewer { viewer { id } }\n"
BUSINESS = "query Business($id: ID!) { business(id: $id) { id name } }\n"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def build(output: Path, client: str, *files: Path) -> int:
    return main(["manifest", "--client", client, "-o", str(output), *map(str, files)])


def test_a_clients_documents_are_stored_by_the_hash_of_their_exact_text(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = [
        write(tmp_path, "Viewer.graphql", VIEWER),
        write(tmp_path, "Business.graphql", BUSINESS),
    ]
    output = tmp_path / "manifest.json"

    assert build(output, "web", *files) == 0

    assert json.loads(output.read_text()) == {
        "web": {document_hash(VIEWER): VIEWER, document_hash(BUSINESS): BUSINESS}
    }
    assert capsys.readouterr().out == f"{output}: 2 documents for client web\n"


def test_each_client_is_replaced_alone_and_a_rebuild_is_byte_for_byte_the_same(
    tmp_path: Path,
) -> None:
    viewer, business = write(tmp_path, "V.graphql", VIEWER), write(tmp_path, "B.graphql", BUSINESS)
    output = tmp_path / "manifest.json"
    build(output, "web", viewer, business)
    build(output, "mobile", viewer)
    first = output.read_bytes()

    build(output, "web", viewer, business)
    assert output.read_bytes() == first
    build(output, "web", business)
    assert load_manifest(output) == {
        "web": {document_hash(BUSINESS): BUSINESS},
        "mobile": {document_hash(VIEWER): VIEWER},
    }


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("query { viewer { nope } }", "Cannot query field 'nope' on type 'Viewer'."),
        ("query { viewer {", "Syntax Error: Expected Name, found <EOF>."),
        ("fragment F on Viewer { id }", "holds no operation"),
        (
            "query Q($id: ID!) { business(id: $id) { id } } query Q { viewer { id } }",
            "There can be only one operation named 'Q'.",
        ),
    ],
)
def test_a_document_the_schema_would_refuse_is_not_admitted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, problem: str
) -> None:
    good = write(tmp_path, "Viewer.graphql", VIEWER)
    bad = write(tmp_path, "Bad.graphql", text)
    output = tmp_path / "manifest.json"

    assert build(output, "web", good, bad) == 1

    assert f"error: {bad}: {problem}" in capsys.readouterr().err
    assert not output.exists()


def test_unreadable_files_and_bad_client_names_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "manifest.json"
    good = write(tmp_path, "Viewer.graphql", VIEWER)
    binary = tmp_path / "Binary.graphql"
    binary.write_bytes(b"\xff\xfe")

    assert build(output, "web", tmp_path / "Missing.graphql", binary) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / 'Missing.graphql'}: cannot be read (FileNotFoundError)" in err
    assert f"{binary}: cannot be read (UnicodeDecodeError)" in err

    assert build(output, "Web App", good) == 1
    assert "client name 'Web App' is not [a-z][a-z0-9_-]*" in capsys.readouterr().err
    assert not output.exists()


def test_the_committed_manifest_is_a_fresh_build_of_the_committed_documents(
    tmp_path: Path,
) -> None:
    output = tmp_path / "manifest.json"
    for client in ("web", "mobile"):
        assert build(output, client, *sorted((CLIENTS / client).glob("*.graphql"))) == 0

    assert output.read_bytes() == (CLIENTS / "manifest.json").read_bytes(), "run `make manifest`"


def test_the_dashboard_query_is_among_the_web_clients_documents() -> None:
    dashboard = (CLIENTS / "web" / "Dashboard.graphql").read_text(encoding="utf-8")
    assert load_manifest(CLIENTS / "manifest.json")["web"][document_hash(dashboard)] == dashboard


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "m.json: must be a JSON object of clients"),
        ({"Web": {}}, "m.json: client name 'Web' is not"),
        ({"web": []}, "m.json: web: must be an object of hash to document"),
        ({"web": {"abc": VIEWER}}, "m.json: web: 'abc' is not a sha256 hex digest"),
        ({"web": {document_hash(VIEWER): BUSINESS}}, "is not its document's hash"),
        ({"web": {document_hash(VIEWER): 7}}, "is not its document's hash"),
    ],
)
def test_a_manifest_that_does_not_check_out_is_refused(data: object, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        parse_manifest(data, "m.json")


def test_a_manifest_that_is_not_json_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "m.json", "{")

    with pytest.raises(ManifestError, match=r"m\.json: cannot be read as JSON"):
        load_manifest(path)
    with pytest.raises(ManifestError, match=r"cannot be read as JSON \(FileNotFoundError\)"):
        load_manifest(tmp_path / "missing.json")


def test_a_client_needs_at_least_one_document(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match=r"no \.graphql files given"):
        update_manifest(tmp_path / "manifest.json", "web", [])
