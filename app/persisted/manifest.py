"""The trusted-documents manifest: for each client (web, mobile), the documents it may
run, by hash. A JSON object `{"<client>": {"<sha256>": "<document>", ...}, ...}` built by
`python -m app manifest` from the client's `.graphql` files; checked on load, so a
hand-edited entry whose hash does not match its document stops the gateway's start."""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path

from app.persisted import SHA256_HEX, document_hash

CLIENT_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")

Manifest = Mapping[str, Mapping[str, str]]


class ManifestError(ValueError):
    """The manifest cannot be used; the message names the file and the entry."""


def parse_manifest(data: object, source: str) -> dict[str, dict[str, str]]:
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: must be a JSON object of clients")
    manifest: dict[str, dict[str, str]] = {}
    for client, documents in data.items():
        if not CLIENT_NAME.fullmatch(client):
            raise ManifestError(f"{source}: client name {client!r} is not [a-z][a-z0-9_-]*")
        if not isinstance(documents, dict):
            raise ManifestError(f"{source}: {client}: must be an object of hash to document")
        checked: dict[str, str] = {}
        for sha256, document in documents.items():
            if not SHA256_HEX.fullmatch(sha256):
                raise ManifestError(f"{source}: {client}: {sha256!r} is not a sha256 hex digest")
            if not isinstance(document, str) or document_hash(document) != sha256:
                raise ManifestError(f"{source}: {client}: {sha256} is not its document's hash")
            checked[sha256] = document
        manifest[client] = checked
    return manifest


def load_manifest(path: str | Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: cannot be read as JSON ({type(exc).__name__})") from None
    return parse_manifest(data, str(path))


def write_manifest(path: str | Path, manifest: Manifest) -> None:
    """Sorted, so a rebuild from the same files is byte for byte the same; atomic."""
    target = Path(path)
    text = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    handle, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    finally:
        # Gone after the replace; left behind only by a failed write.
        Path(temporary).unlink(missing_ok=True)
