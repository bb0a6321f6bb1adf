"""Persisted queries: Apollo's automatic persisted queries (a client sends a document's
sha256 instead of the document), and trusted documents (only documents from a manifest
built from each client's `.graphql` files may run)."""

from __future__ import annotations

import hashlib
import re

SHA256_HEX = re.compile(r"[0-9a-f]{64}")


def document_hash(document: str) -> str:
    """The hash clients send: sha256 of the exact document text, UTF-8, lowercase hex."""
    return hashlib.sha256(document.encode("utf-8")).hexdigest()
