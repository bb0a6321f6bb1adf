"""Every example of docs/partners.md runs against the sandbox and answers as documented,
in document order (later examples replay earlier ones' idempotency keys); and every
error code the gateway can emit is explained there."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from app.auth.principal import Role
from app.http.sdl import entity_tag, published_sdl
from app.schema.build import build_schema
from sandbox.seed import GB_BUSINESS_ID
from tests.e2e.conftest import GatewayFactory, TokenFactory
from tests.e2e.doc_examples import (
    Example,
    blocks,
    examples,
    mismatches,
    parse_curl,
    read_guide,
    text_mismatches,
)

ROOT = Path(__file__).parents[2]
GATEWAY = "http://gateway"
# The `make run` demo tokens the guide's variables stand for (subjects as it mints them).
DEMO_PEOPLE: dict[str, tuple[str, Role, list[str] | None]] = {
    "OWNER_TOKEN": ("demo_owner", Role.OWNER, None),
    "ACCOUNTANT_TOKEN": ("demo_accountant", Role.ACCOUNTANT, None),
    "VIEWER_TOKEN": ("demo_viewer", Role.VIEWER, None),
    "PARTNER_TOKEN": ("demo_partner", Role.OWNER, ["invoices:read"]),
}
# Modules that turn failures into the `extensions.code` a client sees.
ERROR_SOURCES = ["app"]


@pytest.fixture
def variables(token_for: TokenFactory) -> dict[str, str]:
    tokens = {
        name: token_for([(GB_BUSINESS_ID, role)], subject=subject, scopes=scopes)
        for name, (subject, role, scopes) in DEMO_PEOPLE.items()
    }
    # What `curl -sSI $GATEWAY/graphql/schema.graphql` shows as the SDL's ETag.
    return {"GATEWAY": GATEWAY, "SDL_ETAG": entity_tag(published_sdl()), **tokens}


def guide_examples(variables: dict[str, str]) -> list[Example]:
    return examples(read_guide(ROOT), variables)


async def test_every_example_answers_as_documented(
    gateway_factory: GatewayFactory, variables: dict[str, str]
) -> None:
    gateway = await gateway_factory()
    problems: list[str] = []

    for example in guide_examples(variables):
        request = example.request
        response = await gateway.request(
            request.method, request.path, headers=request.headers, content=request.body
        )
        actual: Any = response.text if example.text else response.json()
        if example.text:
            found = text_mismatches(example.expected, actual)
        else:
            found = mismatches(example.expected, actual)
        if response.status_code != example.status:
            found.insert(0, f"status {response.status_code}, documented {example.status}")
        if found:
            problems.append(
                f"docs/partners.md line {example.line}: {found}\n"
                f"actual: {json.dumps(actual, indent=2, ensure_ascii=False)}"
            )

    assert problems == []


def test_the_guide_has_an_example_in_every_section_but_limits() -> None:
    guide = read_guide(ROOT)
    sections = re.split(r"^## ", guide, flags=re.MULTILINE)[1:]
    with_examples = {
        section.splitlines()[0]
        for section in sections
        if any("example" in block.info for block in blocks(section))
    }

    assert with_examples >= {
        "Authentication",
        "Ownership and roles",
        "Pagination",
        "Money",
        "Mutations, idempotency keys and replays",
        "Errors",
    }


def test_every_request_or_query_in_the_guide_is_an_executed_example() -> None:
    runnable = [
        block
        for block in blocks(read_guide(ROOT))
        if block.language in ("sh", "graphql", "http", "bash", "json")
        and "example" not in block.info
        and block.info[:2] != ["json", "expect"]
        and block.info != ["sh", "setup"]
    ]

    assert runnable == []


def test_curl_commands_are_parsed_as_a_shell_would() -> None:
    request = parse_curl(
        "curl -sS -X POST \"$GATEWAY/graphql\" \\\n  -H 'Authorization: Bearer $OWNER_TOKEN' \\\n"
        '  -d \'{"query": "{ viewer { id } }"}\'',
        {"GATEWAY": GATEWAY, "OWNER_TOKEN": "t0ken"},
    )

    assert request.method == "POST"
    assert request.path == "/graphql"
    assert request.headers == {"Authorization": "Bearer t0ken"}
    assert request.body == '{"query": "{ viewer { id } }"}'


@pytest.mark.parametrize(
    "command",
    [
        'curl "$GATEWAY/graphql" -H "Authorization: Bearer $UNKNOWN_TOKEN"',
        "curl https://elsewhere.example/graphql",
        'curl --insecure "$GATEWAY/graphql"',
        "wget http://gateway/graphql",
    ],
)
def test_an_example_the_suite_cannot_run_faithfully_is_refused(command: str) -> None:
    with pytest.raises(ValueError, match=r"."):
        parse_curl(command, {"GATEWAY": GATEWAY})


def test_an_example_without_its_answer_is_refused() -> None:
    with pytest.raises(ValueError, match="must be followed by ```json expect"):
        examples("```graphql example\n{ viewer { id } }\n```\n", {"GATEWAY": GATEWAY})


@pytest.mark.parametrize(
    ("documented", "actual", "expected"),
    [
        ({"a": 1}, {"a": 1}, []),
        ({"a": "..."}, {"a": [1, 2]}, []),
        ({"a": 1}, {"a": 2}, ["$.a: documented 1, got 2"]),
        ({"a": 1}, {"a": 1, "b": 2}, ["$.b: undocumented"]),
        ({"a": 1, "b": 2}, {"a": 1}, ["$.b: missing"]),
        ([1, "..."], [1, 2, 3], []),
        ([1, 2], [1], ["$: documented 2 items, got 1"]),
        ([1], [1, 2], ["$: documented 1 items, got 2"]),
        ({"a": {"b": [{"c": 1}]}}, {"a": {"b": [{"c": 0}]}}, ["$.a.b[0].c: documented 1, got 0"]),
    ],
)
def test_answers_are_compared_whole(documented: Any, actual: Any, expected: list[str]) -> None:
    assert mismatches(documented, actual) == expected


def emitted_codes() -> set[str]:
    """Every `extensions.code` the gateway's code can put on an error: the values of
    `"code"` keys in dict literals, and the codes app/schema/error_policy.py maps failures to."""
    codes: set[str] = set()
    for package in ERROR_SOURCES:
        for path in (ROOT / package).rglob("*.py"):
            if "sandbox" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                if isinstance(node, ast.Dict):
                    for key, value in zip(node.keys, node.values, strict=True):
                        if (
                            isinstance(key, ast.Constant)
                            and key.value == "code"
                            and isinstance(value, ast.Constant)
                            and isinstance(value.value, str)
                        ):
                            codes.add(value.value)
    policy = ast.parse((ROOT / "app" / "schema" / "error_policy.py").read_text())
    codes |= {
        node.value
        for node in ast.walk(policy)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and re.fullmatch(r"[A-Z][A-Z_]{3,}", node.value)
    }
    return codes


def test_every_error_code_the_gateway_emits_is_explained_in_the_guide() -> None:
    guide = read_guide(ROOT)
    table_codes = set(re.findall(r"^\| `([A-Z_]+)` \|", guide, flags=re.MULTILINE))
    user_error_codes = set(build_schema()._schema.type_map["UserErrorCode"].values)  # type: ignore[attr-defined]

    assert emitted_codes() - table_codes == set()
    assert user_error_codes - table_codes == set()


def test_the_code_census_finds_the_codes_it_should() -> None:
    assert {
        "UNAUTHENTICATED",
        "AUTHENTICATION_UNAVAILABLE",
        "TIMEOUT",
        "NOT_FOUND",
        "FORBIDDEN",
        "BAD_USER_INPUT",
        "GRAPHQL_VALIDATION_FAILED",
        "DOWNSTREAM_UNAVAILABLE",
        "DOWNSTREAM_TIMEOUT",
        "RATE_LIMITED",
        "INTERNAL_SERVER_ERROR",
    } <= emitted_codes()


@pytest.mark.parametrize(
    ("documented", "actual", "expected"),
    [
        ("", "", []),
        ("a\nb\n", "a\nb\n", []),
        ("a\n...\nz\n", "a\nb\nc\nz\n", []),
        ("a\n...\nz\n", "a\nz\n", []),
        ("a\n...\n", "a\nb", []),
        ("", "x\n", ["documented text '', got 'x\\n'"]),
        ("a\nz\n", "a\nb\nz\n", ["documented text 'a\\nz\\n', got 'a\\nb\\nz\\n'"]),
        ("a.c\n", "abc\n", ["documented text 'a.c\\n', got 'abc\\n'"]),
    ],
)
def test_text_answers_are_compared_line_by_line(
    documented: str, actual: str, expected: list[str]
) -> None:
    assert text_mismatches(documented, actual) == expected


def test_a_text_answer_is_documented_as_text() -> None:
    [example] = examples(
        '```sh example\ncurl -sS "$GATEWAY/x"\n```\n\n```text expect status=304\n```\n',
        {"GATEWAY": GATEWAY},
    )

    assert (example.status, example.expected, example.text) == (304, "", True)
