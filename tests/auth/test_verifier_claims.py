"""The claims of a correctly signed token: time, issuer, audience, subject, memberships, scope."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.errors import AuthenticationError
from app.auth.principal import KNOWN_SCOPES, Role
from app.auth.verifier import JwtVerifier
from tests.auth.fakes import MakeVerifier
from tests.auth.tokens import AUDIENCE, ISSUER, NOW, OMIT, claims, rs256_token


@pytest.fixture
def sign(rsa_key: rsa.RSAPrivateKey) -> Any:
    def sign(**overrides: Any) -> str:
        return rs256_token(rsa_key, claims(**overrides))

    return sign


async def reason_of(verifier: JwtVerifier, token: str) -> str:
    with pytest.raises(AuthenticationError) as caught:
        await verifier.verify(token)
    return caught.value.reason


# --- time -----------------------------------------------------------------------------


@pytest.mark.parametrize("exp", [NOW - 31, NOW - 30, NOW - 3600])
async def test_an_expired_token_is_refused(verifier: JwtVerifier, sign: Any, exp: int) -> None:
    assert await reason_of(verifier, sign(exp=exp)) == "expired"


@pytest.mark.parametrize("exp", [NOW - 29, NOW - 1, NOW])
async def test_an_expiry_within_the_leeway_is_accepted(
    verifier: JwtVerifier, sign: Any, exp: int
) -> None:
    assert (await verifier.verify(sign(exp=exp))).subject == "user_123"


async def test_the_leeway_comes_from_the_config(make_verifier: MakeVerifier, sign: Any) -> None:
    token = sign(exp=NOW - 10)

    assert await reason_of(make_verifier(leeway_seconds=0), token) == "expired"
    assert (await make_verifier(leeway_seconds=60).verify(token)).subject == "user_123"


@pytest.mark.parametrize("name", ["iss", "aud", "sub", "exp", "iat"])
@pytest.mark.parametrize("absent", ["omitted", "null"])
async def test_each_required_claim_must_be_present(
    verifier: JwtVerifier, sign: Any, name: str, absent: str
) -> None:
    token = sign(**{name: OMIT if absent == "omitted" else None})

    assert await reason_of(verifier, token) == f"missing_claim:{name}"


@pytest.mark.parametrize("name", ["exp", "iat", "nbf"])
@pytest.mark.parametrize(
    "value", ["1700000000", True, [NOW], {"t": NOW}, 10**400, -(10**400), 1e300]
)
async def test_time_claims_must_be_numbers(
    verifier: JwtVerifier, sign: Any, name: str, value: Any
) -> None:
    assert await reason_of(verifier, sign(**{name: value})) == f"bad_claim:{name}"


async def test_fractional_time_claims_are_accepted(verifier: JwtVerifier, sign: Any) -> None:
    token = sign(iat=NOW - 0.5, exp=NOW + 0.5, nbf=NOW - 0.25)

    assert (await verifier.verify(token)).subject == "user_123"


@pytest.mark.parametrize("nbf", [NOW + 31, NOW + 3600])
async def test_a_token_not_yet_valid_is_refused(verifier: JwtVerifier, sign: Any, nbf: int) -> None:
    assert await reason_of(verifier, sign(nbf=nbf)) == "not_yet_valid"


@pytest.mark.parametrize("nbf", [NOW - 100, NOW, NOW + 30])
async def test_nbf_within_the_leeway_is_accepted(
    verifier: JwtVerifier, sign: Any, nbf: int
) -> None:
    assert (await verifier.verify(sign(nbf=nbf))).subject == "user_123"


async def test_an_iat_in_the_future_is_refused(verifier: JwtVerifier, sign: Any) -> None:
    assert await reason_of(verifier, sign(iat=NOW + 31)) == "issued_in_future"


async def test_an_iat_slightly_ahead_within_the_leeway_is_accepted(
    verifier: JwtVerifier, sign: Any
) -> None:
    assert (await verifier.verify(sign(iat=NOW + 30))).subject == "user_123"


# --- issuer, audience, subject --------------------------------------------------------


@pytest.mark.parametrize(
    "iss",
    [
        "https://other-idp.example",
        "https://idp.example.evil",  # starts with the right issuer
        "https://idp.example/",
        "HTTPS://IDP.EXAMPLE",
        "https://idp.exampl",  # a prefix of the right issuer
        "",
        [ISSUER],
        7,
    ],
)
async def test_the_issuer_must_match_exactly(verifier: JwtVerifier, sign: Any, iss: Any) -> None:
    assert await reason_of(verifier, sign(iss=iss)) == "bad_issuer"


@pytest.mark.parametrize(
    "aud",
    [
        "another-api",
        f"{AUDIENCE}-evil",
        AUDIENCE.upper(),
        ["another-api"],
        [],
        [AUDIENCE, 7],
        {"aud": AUDIENCE},
        42,
    ],
)
async def test_the_audience_must_contain_ours(verifier: JwtVerifier, sign: Any, aud: Any) -> None:
    assert await reason_of(verifier, sign(aud=aud)) == "bad_audience"


@pytest.mark.parametrize("aud", [AUDIENCE, [AUDIENCE], ["another-api", AUDIENCE]])
async def test_an_audience_string_or_list_containing_ours_is_accepted(
    verifier: JwtVerifier, sign: Any, aud: Any
) -> None:
    assert (await verifier.verify(sign(aud=aud))).subject == "user_123"


@pytest.mark.parametrize(
    "sub",
    [
        "",
        "x" * 256,
        12345,
        ["user_123"],
        # The subject becomes the X-Actor-Id header and an audit-log field downstream.
        "user\r\nX-Evil: 1",
        "user\n",
        "user 123",
        "usér",
        "user\x00",
    ],
)
async def test_the_subject_must_be_a_short_nonempty_string(
    verifier: JwtVerifier, sign: Any, sub: Any
) -> None:
    assert await reason_of(verifier, sign(sub=sub)) == "bad_subject"


async def test_a_subject_of_255_characters_is_accepted(verifier: JwtVerifier, sign: Any) -> None:
    assert (await verifier.verify(sign(sub="x" * 255))).subject == "x" * 255


# --- memberships ----------------------------------------------------------------------


async def test_memberships_become_roles_by_business(verifier: JwtVerifier, sign: Any) -> None:
    token = sign(
        memberships=[
            {"business_id": "biz_acme", "role": "owner"},
            {"business_id": "biz_B2", "role": "admin"},
            {"business_id": "biz_c", "role": "accountant"},
            {"business_id": "biz_" + "d" * 32, "role": "viewer", "display_name": "ignored"},
        ]
    )

    principal = await verifier.verify(token)

    assert principal.memberships == {
        "biz_acme": Role.OWNER,
        "biz_B2": Role.ADMIN,
        "biz_c": Role.ACCOUNTANT,
        "biz_" + "d" * 32: Role.VIEWER,
    }
    assert principal.role_in("biz_nope") is None


@pytest.mark.parametrize("memberships", [OMIT, []])
async def test_no_memberships_means_no_businesses(
    verifier: JwtVerifier, sign: Any, memberships: Any
) -> None:
    assert (await verifier.verify(sign(memberships=memberships))).memberships == {}


@pytest.mark.parametrize(
    "memberships",
    [
        None,
        "biz_acme:owner",
        {"business_id": "biz_acme", "role": "owner"},
        ["biz_acme"],
        [None],
        [{"role": "owner"}],
        [{"business_id": "biz_acme"}],
        [{"business_id": "acme", "role": "owner"}],
        [{"business_id": "biz_", "role": "owner"}],
        [{"business_id": "biz_" + "a" * 33, "role": "owner"}],
        [{"business_id": "biz_a-b", "role": "owner"}],
        [{"business_id": "biz_١٢", "role": "owner"}],  # non-ASCII digits
        [{"business_id": "biz_acme\n", "role": "owner"}],
        [{"business_id": "BIZ_acme", "role": "owner"}],
        [{"business_id": 7, "role": "owner"}],
        [{"business_id": "biz_acme", "role": "superuser"}],
        [{"business_id": "biz_acme", "role": "Owner"}],
        [{"business_id": "biz_acme", "role": ["owner"]}],
        [{"business_id": "biz_acme", "role": None}],
        [
            {"business_id": "biz_acme", "role": "viewer"},
            {"business_id": "biz_acme", "role": "owner"},
        ],
        [
            {"business_id": "biz_acme", "role": "owner"},
            {"business_id": "biz_acme", "role": "owner"},
        ],
    ],
)
async def test_malformed_memberships_invalidate_the_token(
    verifier: JwtVerifier, sign: Any, memberships: Any
) -> None:
    assert await reason_of(verifier, sign(memberships=memberships)) == "bad_claim:memberships"


# --- scope ----------------------------------------------------------------------------


async def test_no_scope_claim_means_a_first_party_token(verifier: JwtVerifier, sign: Any) -> None:
    principal = await verifier.verify(sign())

    assert principal.scopes is None
    assert principal.has_scope("payments:write")


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        ("", frozenset()),
        ("invoices:read", {"invoices:read"}),
        ("invoices:read  payments:write ", {"invoices:read", "payments:write"}),
        ("invoices:read admin:everything openid", {"invoices:read"}),
        ("INVOICES:READ", frozenset()),
        (" ".join(sorted(KNOWN_SCOPES)), KNOWN_SCOPES),
    ],
)
async def test_scope_keeps_the_known_scopes_it_names(
    verifier: JwtVerifier, sign: Any, scope: str, expected: frozenset[str]
) -> None:
    principal = await verifier.verify(sign(scope=scope))

    assert principal.scopes == expected
    assert not principal.has_scope("admin:everything")


@pytest.mark.parametrize("scope", [None, ["invoices:read"], 1])
async def test_a_scope_that_is_not_a_string_invalidates_the_token(
    verifier: JwtVerifier, sign: Any, scope: Any
) -> None:
    assert await reason_of(verifier, sign(scope=scope)) == "bad_claim:scope"
