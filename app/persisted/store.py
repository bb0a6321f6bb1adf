"""The automatic-persisted-query store: documents by hash, bounded in entries and in the
size of each document, least recently used out first. A forgotten document costs its
client one round trip (PersistedQueryNotFound, then the document again), never an error.
"""

from __future__ import annotations

from collections import OrderedDict


class ApqStore:
    def __init__(self, *, max_entries: int, max_document_bytes: int) -> None:
        self._max_entries = max_entries
        self._max_bytes = max_document_bytes
        self._documents: OrderedDict[str, str] = OrderedDict()

    def get(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    def put(self, sha256: str, document: str) -> bool:
        """Remember a document whose hash the caller has verified; False if too large."""
        if len(document.encode("utf-8")) > self._max_bytes:
            return False
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        while len(self._documents) > self._max_entries:
            self._documents.popitem(last=False)
        return True
