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

# An unterminated string matches to its end (the closing quote is optional): a string
# that fails to close is then one token, never a scan that fails and is retried from the
# next quote, which made `"\"\"\"...` quadratic. Valid documents are counted alike.
_TOKEN = re.compile(
    r'"""(?:[^"\\]|\\.|"(?!""))*(?:""")?'  # block string
    r'|"(?:[^"\\\n\r]|\\.)*"?'  # string
    r"|#[^\n\r]*"  # comment
    r"|\.\.\."  # spread
    r"|[A-Za-z_][A-Za-z0-9_]*"  # name
    r"|-?[0-9][0-9.eE+\-]*"  # int or float
    r"|[!$&()\[\]{}:=@|]"  # punctuator
)


# Only the document's first characters are counted: scanning costs up to 0.3 us a
# character on adversarial text (measured: 1 MiB of `"\"\"...` 134 ms, of backslashes
# 107 ms), and the parser stops at the token limit anyway. A count over a prefix is never
# more than the whole's, so what it refuses is over the limit; the rest of a longer
# document is priced by its size (app/schema/limits/weigh.py) and bounded by the parser.
SCAN_CHARS = 16_384


def count_tokens(query: str, *, stop_after: int) -> int:
    """The tokens of `query`'s first SCAN_CHARS characters, up to `stop_after` at most."""
    tokens = _TOKEN.finditer(query, 0, SCAN_CHARS)
    return sum(1 for _ in itertools.islice(tokens, stop_after))
