"""GraphQL's lexical tokens counted without parsing, as graphql-core's parser counts them
for `max_tokens` (comments included, commas and whitespace not), by one regular
expression that runs at C speed.

Why: graphql-core's lexer is pure Python. Measured on this machine, a document of more
than GRAPHQL_MAX_TOKENS (2,000) tokens took 17 ms to parse up to the limit (40 to 110 ms
on a loaded machine) before being refused; counting it here takes about 0.5 ms, so such a
document is refused before it is parsed, and its weight is known before the budget is
charged. The count never exceeds the parser's for a document that lexes (tested against
graphql-core on every document the project ships and on generated ones), so nothing the
parser would take is refused: a document counted over the limit here is over it there.
"""

from __future__ import annotations

import itertools
import re

_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*"""'  # block string
    r'|"(?:[^"\\\n\r]|\\.)*"'  # string
    r"|#[^\n\r]*"  # comment
    r"|\.\.\."  # spread
    r"|[A-Za-z_][A-Za-z0-9_]*"  # name
    r"|-?[0-9][0-9.eE+\-]*"  # int or float
    r"|[!$&()\[\]{}:=@|]"  # punctuator
)


def count_tokens(query: str, *, stop_after: int) -> int:
    """The tokens of `query`, counted up to `stop_after` at most."""
    return sum(1 for _ in itertools.islice(_TOKEN.finditer(query), stop_after))
