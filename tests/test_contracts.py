"""The vendored contracts (contracts/) are the ones the project is built against.

A fresh clone stands alone: code, tests and docs read contracts/. Where the shared
folder the contracts come from sits beside the repository (../shared/contracts, as on
the team's machines and in CI), the vendored copy must equal it file for file and byte
for byte, so an update there fails here until it is vendored and reviewed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from graphql import build_schema

from tests.paths import CONTRACTS_DIR, REPO_ROOT

SHARED_CONTRACTS = REPO_ROOT.parent / "shared" / "contracts"
FILES = ["README.md", "invoicing.openapi.yaml", "payments.openapi.yaml", "schema-core.graphql"]


def differences(vendored: Path, upstream: Path) -> list[str]:
    """Each way `vendored` differs from `upstream`: missing, extra or changed files."""
    ours = {p.name for p in vendored.iterdir() if p.is_file()}
    theirs = {p.name for p in upstream.iterdir() if p.is_file()}
    found = [f"missing from {vendored.name}/: {name}" for name in sorted(theirs - ours)]
    found += [f"not in {upstream}: {name}" for name in sorted(ours - theirs)]
    found += [
        f"differs from {upstream / name}: {name}"
        for name in sorted(ours & theirs)
        if (vendored / name).read_bytes() != (upstream / name).read_bytes()
    ]
    return found


def test_the_vendored_contracts_are_complete_and_readable() -> None:
    assert sorted(p.name for p in CONTRACTS_DIR.iterdir()) == sorted(FILES)
    for name in ("invoicing.openapi.yaml", "payments.openapi.yaml"):
        document = yaml.safe_load((CONTRACTS_DIR / name).read_text(encoding="utf-8"))
        assert document["openapi"].startswith("3.")
        assert document["paths"]
    core = build_schema((CONTRACTS_DIR / "schema-core.graphql").read_text(encoding="utf-8"))
    assert core.query_type is not None


@pytest.mark.skipif(
    not SHARED_CONTRACTS.is_dir(), reason="no ../shared/contracts beside this clone"
)
def test_the_vendored_contracts_equal_the_shared_ones() -> None:
    assert differences(CONTRACTS_DIR, SHARED_CONTRACTS) == []


def test_a_changed_missing_or_extra_file_is_a_difference(tmp_path: Path) -> None:
    upstream, vendored = tmp_path / "upstream", tmp_path / "vendored"
    upstream.mkdir()
    vendored.mkdir()
    (upstream / "same.md").write_text("a")
    (vendored / "same.md").write_text("a")
    assert differences(vendored, upstream) == []

    (upstream / "new.yaml").write_text("b")
    (vendored / "stale.graphql").write_text("c")
    (upstream / "changed.md").write_text("new")
    (vendored / "changed.md").write_text("old")

    assert differences(vendored, upstream) == [
        "missing from vendored/: new.yaml",
        f"not in {upstream}: stale.graphql",
        f"differs from {upstream / 'changed.md'}: changed.md",
    ]
