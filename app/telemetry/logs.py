"""Structured logs: one JSON object per line, with the fields a record carries in
`extra`. Tokens never reach a log line: fields named like credentials are dropped and
anything shaped like a JWT or bearer header is redacted, wherever it appears."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}
_SECRET_FIELD = re.compile(r"authorization|token|secret|password|dsn|cookie", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    # Neither pattern can match without its literal: most values (ids, names, numbers
    # as text) skip both substitutions, about half the request line's formatting.
    if "eyJ" not in text and "bearer" not in text.lower():
        return text
    return _BEARER.sub(f"Bearer {REDACTED}", _JWT.sub(REDACTED, text))


@lru_cache(maxsize=512)
def _secret_field(name: str) -> bool:
    # Field names come from the code's `extra` dicts: a small, fixed set.
    return _SECRET_FIELD.search(name) is not None


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            str(k): (REDACTED if _secret_field(str(k)) else _clean(v)) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact(str(value))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in vars(record).items():
            if key in _STANDARD or key.startswith("_"):
                continue
            entry[key] = REDACTED if _secret_field(key) else _clean(value)
        if record.exc_info:
            # Tracebacks stay in the log: they are what the masked client message's
            # request id leads an operator to.
            entry["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(level: str, *, json_lines: bool) -> None:
    """Called once by the process entry points, never on import or by create_app, so
    tests and embedding programs keep their own logging."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_lines else logging.Formatter("%(levelname)s %(name)s %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # httpx logs every request at INFO; the gateway's own line per request, the metrics
    # and the spans already say what each downstream call did.
    for chatty in ("httpx", "httpcore"):
        logging.getLogger(chatty).setLevel(max(logging.WARNING, root.level))
