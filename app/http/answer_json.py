"""The JSON of a GraphQL answer: orjson where its bytes are exactly `json.dumps`'s.

Strawberry writes answers with `json.dumps(data, separators=(",", ":"))`, which was
6.5% of a dashboard's CPU (bench/profiles/NOTE.md). On the benchmark's dashboard answer
(24 KB, 90 formatted amounts with `£` and `€`) json.dumps takes 0.62 ms and this 0.23
ms (orjson 0.05 ms, the escaping below 0.18 ms), the same bytes. The bytes must not
change: persisted GETs' ETags name them, and clients and caches compare them. The two
agree on every dict of str keys, list, str, bool, None and int orjson takes, except
where orjson's output has
- a non-ASCII character (json.dumps escapes it as `\\uXXXX`, a surrogate pair past
  U+FFFF; orjson writes UTF-8) or U+007F (json.dumps escapes it; orjson does not):
  both occur only inside strings, and are escaped here the way json.dumps does (every
  dashboard has some: amounts are formatted `£21,302.61`, `₹`, `€`);
- a float (json.dumps writes `repr`, orjson its own shortest form: `0.00001` for
  `1e-05`): the data of a schema without `Float` holds none (`floats_possible`), and an
  answer with errors or extensions (whose values the gateway does not type) goes to
  json.dumps whole;
- anything else (an int past 64 bits, a key that is not a str, a datetime, a dataclass,
  a subclass of a built-in): orjson refuses it here, and json.dumps writes or refuses it
  as before.

tests/http/test_answer_json.py checks the equality over generated values.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_json_dumps = json.JSONEncoder(separators=(",", ":")).encode
_PASSTHROUGH = (
    orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)


def _refuse(value: Any) -> Any:
    raise TypeError(type(value).__name__)


def _ascii(encoded: bytes) -> bytes | None:
    """orjson's UTF-8 output escaped as json.dumps's ensure_ascii escapes it, or None.

    Python's `backslashreplace` writes `\\xNN` below U+0100, `\\uNNNN` up to U+FFFF
    (lowercase, as json.dumps) and `\\UNNNNNNNN` past it. Without an escaped backslash
    (`\\\\`) in orjson's output, every backslash starts an escape, so each `\\x` is
    one of those and becomes `\\u00`; past U+FFFF (a surrogate pair in json.dumps)
    json.dumps writes the answer instead. A regular expression over the text did the
    same in 0.62 ms a dashboard, as long as json.dumps itself; this takes 0.18 ms."""
    if b"\\\\" in encoded:
        return None
    escaped = encoded.decode().encode("ascii", "backslashreplace")
    if b"\\U" in escaped:
        return None
    escaped = escaped.replace(b"\\x", b"\\u00")
    return escaped.replace(b"\x7f", b"\\u007f") if b"\x7f" in escaped else escaped


def strawberry_json(data: object) -> str:
    """Strawberry's own encoding of an answer (strawberry/http/base.py)."""
    return _json_dumps(data)


class AnswerJson:
    """Encodes a schema's answers; `floats_possible`: its data may hold floats (it has
    a `Float` type), and every answer goes to json.dumps."""

    def __init__(self, *, floats_possible: bool) -> None:
        self._fast = not floats_possible

    def __call__(self, data: object) -> str | bytes:
        if self._fast and type(data) is dict and data.keys() == {"data"}:
            try:
                encoded = orjson.dumps(data, default=_refuse, option=_PASSTHROUGH)
            except TypeError:  # orjson.JSONEncodeError is one: json.dumps decides
                return _json_dumps(data)
            if encoded.isascii():
                return encoded.replace(b"\x7f", b"\\u007f") if b"\x7f" in encoded else encoded
            escaped = _ascii(encoded)
            if escaped is not None:
                return escaped
        return _json_dumps(data)
