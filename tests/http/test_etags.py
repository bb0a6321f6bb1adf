"""If-None-Match by weak comparison, shared by every conditional answer."""

from __future__ import annotations

import pytest

from app.http.etags import none_match


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        ('"a"', True),
        ('W/"a"', True),
        ('"b", "a"', True),
        ('"b",W/"a"', True),
        ("*", True),
        ('"b"', False),
        ("a", False),
        ('W/"ab"', False),
    ],
)
def test_if_none_match_compares_weakly(header: str | None, expected: bool) -> None:
    assert none_match(header, '"a"') is expected


def test_a_weakened_tag_of_ours_still_matches() -> None:
    assert none_match('"a"', 'W/"a"') is True
    assert none_match('W/"a"', 'W/"a"') is True
