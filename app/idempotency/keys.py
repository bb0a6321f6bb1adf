"""Scopes, fingerprints and derived downstream keys (Stripe's model, the IETF
Idempotency-Key draft): deterministic, so a resumed step reuses the same key."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class KeyScope:
    """One user's keys for one mutation: the same key from another user (or for another
    mutation) is another key entirely."""

    issuer: str
    subject: str
    operation: str

    @property
    def digest(self) -> str:
        # NUL cannot occur in any of the parts (printable ASCII / URLs), so the joined
        # form is unambiguous.
        joined = "\0".join((self.issuer, self.subject, self.operation))
        return hashlib.sha256(joined.encode()).hexdigest()


def fingerprint(canonical_input: dict[str, object]) -> str:
    """Of the parsed input (amounts in minor units), so "12.5" and "12.50" agree."""
    text = json.dumps(canonical_input, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def downstream_key(scope_digest: str, client_key: str, step: str) -> str:
    """The Idempotency-Key of one downstream POST of one mutation: the same client key
    and step always give the same downstream key, so a retried or resumed step can
    never do its work twice."""
    material = "\0".join((scope_digest, client_key, step)).encode()
    return "gw1-" + hashlib.sha256(material).hexdigest()
