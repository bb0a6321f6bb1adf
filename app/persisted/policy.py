"""Which document a request runs, under the PERSISTED_QUERIES mode.

- `off`: the document in `query`; a persisted-query extension is refused with
  PersistedQueryNotSupported, which makes Apollo clients stop sending hashes.
- `apq` (default): Apollo's automatic persisted queries. A hash alone runs the stored
  document, or answers PersistedQueryNotFound (HTTP 200), on which the client sends the
  document with its hash; that hash is verified and the document stored. Plain `query`
  requests run as usual. This restricts nothing: it saves clients bandwidth.
- `required`: trusted documents. Only documents in the manifest of the client named by
  the `apollographql-client-name` header run; any other document is refused before it is
  parsed, however valid.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from app.persisted import SHA256_HEX, document_hash
from app.persisted.manifest import Manifest
from app.persisted.store import ApqStore

Mode = Literal["off", "apq", "required"]
# Apollo Client, Apollo iOS and Apollo Kotlin send it when given a client name.
CLIENT_HEADER = "apollographql-client-name"


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str
    status: int

    def body(self) -> dict[str, Any]:
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


NOT_FOUND = Refusal("PERSISTED_QUERY_NOT_FOUND", "PersistedQueryNotFound", 200)
NOT_SUPPORTED = Refusal("PERSISTED_QUERY_NOT_SUPPORTED", "PersistedQueryNotSupported", 200)
INVALID = Refusal(
    "PERSISTED_QUERY_INVALID",
    "extensions.persistedQuery must be {version: 1, sha256Hash: 64 lowercase hex digits}.",
    400,
)
HASH_MISMATCH = Refusal(
    "PERSISTED_QUERY_HASH_MISMATCH", "The query's sha256 is not its sha256Hash.", 400
)
REQUIRED = Refusal(
    "PERSISTED_QUERY_REQUIRED",
    "Only persisted queries run here: send extensions.persistedQuery.sha256Hash of a"
    " document from your client's manifest.",
    400,
)
UNKNOWN_CLIENT = Refusal(
    "PERSISTED_QUERY_NOT_ALLOWED",
    f"Name a known client in the {CLIENT_HEADER} header to run its persisted queries.",
    400,
)


@dataclass(frozen=True, slots=True)
class Resolved:
    # None: the request carries no document (Strawberry answers that).
    document: str | None
    # A verified APQ registration, stored only once the request is admitted: a caller
    # over its rate limit must not be able to churn the store.
    register: str | None = None


def not_in_manifest(client: str) -> Refusal:
    return Refusal(
        "PERSISTED_QUERY_NOT_ALLOWED",
        f"This document is not in the {client} client's manifest.",
        400,
    )


class PersistedQueries:
    def __init__(self, mode: Mode, store: ApqStore, manifest: Manifest) -> None:
        self.mode = mode
        self._store = store
        self._manifest = manifest

    def resolve(
        self, query: str | None, extensions: Mapping[str, Any] | None, client: str | None
    ) -> Resolved | Refusal:
        """The document to run, or why it may not run. Changes nothing."""
        persisted = (extensions or {}).get("persistedQuery")
        if persisted is None:
            return REQUIRED if self.mode == "required" else Resolved(query)
        if self.mode == "off":
            return NOT_SUPPORTED
        sha256 = _hash_of(persisted)
        if sha256 is None:
            return INVALID
        if query is not None and document_hash(query) != sha256:
            return HASH_MISMATCH
        if self.mode == "required":
            return self._trusted(sha256, client)
        if query is None:
            stored = self._store.get(sha256)
            return NOT_FOUND if stored is None else Resolved(stored)
        return Resolved(query, register=sha256)

    def remember(self, resolved: Resolved) -> None:
        if resolved.register is not None and resolved.document is not None:
            self._store.put(resolved.register, resolved.document)

    def _trusted(self, sha256: str, client: str | None) -> Resolved | Refusal:
        documents = self._manifest.get(client) if client is not None else None
        if client is None or documents is None:
            return UNKNOWN_CLIENT
        document = documents.get(sha256)
        return not_in_manifest(client) if document is None else Resolved(document)


def _hash_of(persisted: object) -> str | None:
    if not isinstance(persisted, Mapping):
        return None
    version = persisted.get("version")
    if type(version) is not int or version != 1:  # not True, which equals 1
        return None
    sha256 = persisted.get("sha256Hash")
    if not isinstance(sha256, str) or not SHA256_HEX.fullmatch(sha256):
        return None
    return sha256
