"""Where the repository's own files are, for tests that read them."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# The contracts as this repository vendors them (tests/test_contracts.py keeps them equal
# to the shared contracts wherever that folder sits beside the repository).
CONTRACTS_DIR = REPO_ROOT / "contracts"
