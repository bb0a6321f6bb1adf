"""Tokens counted without parsing agree with graphql-core's own count, so refusing a
document counted over the limit never refuses one the parser would take."""

from __future__ import annotations

from pathlib import Path

import pytest
from graphql import GraphQLSyntaxError, Source, get_introspection_query
from graphql.language import Lexer, TokenKind
from hypothesis import assume, given
from hypothesis import strategies as st

from app.schema.limits.tokens import count_tokens

ROOT = Path(__file__).resolve().parents[3]


def lexer_count(document: str) -> int:
    """graphql-core's count for max_tokens: every token but EOF, comments included."""
    lexer = Lexer(Source(document))
    count = 0
    while True:
        previous = lexer.token
        token = lexer.advance()
        skipped = previous.next
        while skipped is not None and skipped is not token:
            count += 1
            skipped = skipped.next
        if token.kind is TokenKind.EOF:
            return count
        count += 1


SHIPPED = [
    *(path.read_text(encoding="utf-8") for path in sorted(ROOT.glob("clients/**/*.graphql"))),
    get_introspection_query(descriptions=True),
    'query Q($a: Int = -1.5e3, $b: [ID!]) { f(s: "a\\"b", t: """x ""y \\""" z""") @skip(if: true)'
    " ...F ... on T { g } } # the end",
]


@pytest.mark.parametrize("document", SHIPPED)
def test_shipped_documents_count_as_the_lexer_counts(document: str) -> None:
    assert count_tokens(document, stop_after=100_000) == lexer_count(document)


PIECES = st.sampled_from(
    [
        "a",
        "_x9",
        "query",
        "0",
        "-12",
        "3.25",
        "6e10",
        "-1.5E-3",
        '""',
        '"a b"',
        '"q\\"uote"',
        '"\\u00e9"',
        '""""""',
        '"""block "" text"""',
        '"""esc \\""" aped"""',
        "# comment",
        "...",
        "!",
        "$",
        "&",
        "(",
        ")",
        "[",
        "]",
        "{",
        "}",
        ":",
        "=",
        "@",
        "|",
    ]
)
SEPARATORS = st.sampled_from([" ", "\n", ",", "\t", " , ", "\r\n"])


@given(st.lists(st.tuples(PIECES, SEPARATORS), max_size=40))
def test_generated_token_streams_count_as_the_lexer_counts(
    pieces: list[tuple[str, str]],
) -> None:
    # A comment runs to the end of its line: what follows it starts on the next one.
    document = "".join(piece + ("\n" if piece.startswith("#") else sep) for piece, sep in pieces)
    try:
        expected = lexer_count(document)
    except GraphQLSyntaxError:
        expected = None
    assume(expected is not None)
    assert count_tokens(document, stop_after=100_000) == expected


@pytest.mark.parametrize(
    "text",
    [
        '"' + '\\"' * 500_000,  # a string that never closes, full of escaped quotes
        '"""' + '"a' * 500_000,  # a block string that never closes
        "\\" * 1_000_000,  # nothing that starts a token
        '"' * 1_000_000,
    ],
    ids=["escaped quotes", "open block string", "backslashes", "quotes"],
)
def test_adversarial_text_is_counted_in_one_bounded_pass(text: str) -> None:
    # (quadratic before: each quote started a scan to the end; this would not finish)
    assert count_tokens(text, stop_after=2001) <= 2001


def test_only_the_first_characters_are_counted() -> None:
    document = "{ " + "a " * 20_000 + "}"

    assert count_tokens(document, stop_after=100_000) == 1 + 8_191


def test_counting_stops_where_asked() -> None:
    assert count_tokens("{ " + "a " * 10_000 + "}", stop_after=2001) == 2001
