"""Reading the token out of the Authorization header."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.auth.bearer import extract_bearer_token
from app.auth.errors import AuthenticationError

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}",
        f"bearer {TOKEN}",
        f"BEARER {TOKEN}",
        f"bEaReR {TOKEN}",
        f"  Bearer {TOKEN}\t",  # optional whitespace around the field value
    ],
)
def test_a_bearer_header_gives_its_token(header: str) -> None:
    assert extract_bearer_token(header) == TOKEN


def test_the_b64token_alphabet_is_accepted() -> None:
    assert extract_bearer_token("Bearer aZ09-._~+/==") == "aZ09-._~+/=="


@pytest.mark.parametrize("header", [None, "", "   ", "\t"])
def test_no_header_is_a_missing_token(header: str | None) -> None:
    with pytest.raises(AuthenticationError) as caught:
        extract_bearer_token(header)
    assert caught.value.reason == "missing_token"


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        TOKEN,
        f"Basic {TOKEN}",
        f"Token {TOKEN}",
        f"Bearer:{TOKEN}",
        f"Bearer  {TOKEN}",  # two spaces
        f"Bearer\t{TOKEN}",
        f"Bearer {TOKEN} {TOKEN}",
        f"Bearer {TOKEN}, Bearer {TOKEN}",
        f"Bearer {TOKEN},",
        f"Bearer {TOKEN}\nX-Injected: 1",
        f"Bearer {TOKEN}=abc",  # padding only at the end
        f'Bearer "{TOKEN}"',
        f"Bearer tök{TOKEN}",
        f"Bearerx {TOKEN}",
        f"Beаrer {TOKEN}",  # Cyrillic a
    ],
)
def test_anything_else_is_malformed(header: str) -> None:
    with pytest.raises(AuthenticationError) as caught:
        extract_bearer_token(header)
    assert caught.value.reason == "malformed_authorization"
    assert TOKEN not in str(caught.value)


@given(st.text(max_size=200))
def test_any_header_gives_a_clean_token_or_an_authentication_error(header: str) -> None:
    token: str | None = None
    reason: str | None = None
    try:
        token = extract_bearer_token(header)
    except AuthenticationError as error:
        reason = error.reason

    if token is None:
        assert reason in {"missing_token", "malformed_authorization"}
    else:
        assert not any(c.isspace() or c == "," for c in token)
        assert header.strip(" \t").lower() == f"bearer {token}".lower()


@given(st.from_regex(r"[A-Za-z0-9\-._~+/]+=*", fullmatch=True))
def test_every_b64token_round_trips(token: str) -> None:
    assert extract_bearer_token(f"Bearer {token}") == token
