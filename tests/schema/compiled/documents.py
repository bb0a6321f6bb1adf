"""The known documents the differential tests run: the clients' (clients/), the partner
guide's GraphQL examples (docs/partners.md), and the tokens they run as."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphql import OperationType, parse

from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID, INVOICES
from tests.e2e.doc_examples import blocks

ROOT = Path(__file__).parents[3]
FIRST_GB_INVOICE = next(i.id for i in INVOICES if i.business_id == GB_BUSINESS_ID)
FIRST_IN_INVOICE = next(i.id for i in INVOICES if i.business_id == IN_BUSINESS_ID)

# Variables per operation name, and a second set reaching what the token may not.
CLIENT_VARIABLES: dict[str, list[dict[str, Any]]] = {
    "Dashboard": [{"id": GB_BUSINESS_ID, "first": 50}, {"id": IN_BUSINESS_ID, "first": 5}],
    "InvoiceList": [
        {"id": GB_BUSINESS_ID, "first": 7},
        {"id": GB_BUSINESS_ID, "first": 3, "after": "not-a-cursor"},
        {"id": IN_BUSINESS_ID, "first": 2},
    ],
    "Viewer": [{}],
}


def _is_query(text: str) -> bool:
    try:
        document = parse(text)
    except Exception:  # noqa: BLE001 - a broken example is compared as it stands
        return True
    return all(
        getattr(definition, "operation", OperationType.QUERY) is OperationType.QUERY
        for definition in document.definitions
    )


def client_documents() -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for path in sorted((ROOT / "clients").rglob("*.graphql")):
        text = path.read_text(encoding="utf-8")
        if not _is_query(text):
            continue  # mutations run on graphql-core either way (reasons.MUTATION)
        name = path.stem
        for number, variables in enumerate(CLIENT_VARIABLES.get(name, [{}])):
            found.append((f"{path.parent.name}/{name}#{number}", text, variables))
    return found


def guide_documents() -> list[tuple[str, str, dict[str, Any]]]:
    """The guide's queries, as GraphQL blocks and as curl bodies; `$IDS` placeholders
    are left as they stand (the documents are compared, not the guide's answers)."""
    text = (ROOT / "docs" / "partners.md").read_text(encoding="utf-8")
    found = []
    for block in blocks(text):
        if "example" not in block.info:
            continue
        document: str | None = None
        variables: dict[str, Any] = {}
        if block.language == "graphql":
            document = block.text
        elif block.language == "sh" and "-d" in block.text:
            body = block.text.split("-d", 1)[1].strip().strip("'")
            try:
                request = json.loads(body)
            except ValueError:
                continue
            if isinstance(request, dict) and isinstance(request.get("query"), str):
                document = request["query"]
                variables = request.get("variables") or {}
        if document is not None and _is_query(document):
            found.append((f"partners.md:{block.line}", document, variables))
    return found


ADDITIONAL: dict[str, tuple[str, list[dict[str, Any]]]] = {
    # node and nodes (interfaces), fragments named and inline, aliases, @skip/@include
    # from variables, __typename, a foreign id, an unknown id, a malformed one.
    "abstract types and fragments": (
        """query Nodes($ids: [ID!]!, $skip: Boolean!, $with: Boolean!) {
          nodes(ids: $ids) { __typename id ...Inv ... on Customer { name email } }
          one: node(id: $first) { __typename ... on Invoice { number total { formatted } } }
        }
        fragment Inv on Invoice {
          number status @skip(if: $skip)
          customer @include(if: $with) { id email }
          payments { paymentMethod { type last4 } refunds { reason } }
        }""".replace("$first", '"' + FIRST_GB_INVOICE + '"'),
        [
            {
                "ids": [FIRST_GB_INVOICE, FIRST_IN_INVOICE, "inv_nope", "x"],
                "skip": False,
                "with": True,
            },
            {"ids": [FIRST_GB_INVOICE], "skip": True, "with": False},
        ],
    ),
    "literal arguments and variables mixed": (
        """query($id: ID!) {
          business(id: $id) { id a: invoices(first: 2) { edges { node { id } } }
            b: invoices(first: 1, status: PAID) { edges { cursor node { number } } } }
          missing: business(id: "biz_nope") { id }
        }""",
        [{"id": GB_BUSINESS_ID}, {"id": IN_BUSINESS_ID}],
    ),
}


def additional_documents() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (f"{name}#{number}", text, variables)
        for name, (text, variable_sets) in ADDITIONAL.items()
        for number, variables in enumerate(variable_sets)
    ]


ALL_DOCUMENTS = client_documents() + guide_documents() + additional_documents()
