"""What GraphiQL opens with: the dashboard query, in the version the token can run.

The dashboard reaches the businesses through the caller's memberships, so it needs no
business id. Its parts need more than a membership, though: a partner token (`scope`
claim) reads business details only with businesses:read, the balance only with
payments:read, invoices only with invoices:read and their customers only with
customers:read; and a viewer's role never reads a balance. A document asking for a part
the token may not read answers errors and, through non-null fields, `data: null`.

So the page carries one document per set of readable parts (16, a few KiB) and the rule
for each part (scope, roles), all derived here from app/auth/policy.py so they cannot
drift from what the gateway enforces. init.js reads the token's `scope` and
`memberships` claims (unverified: only to choose a document; the gateway decides what
runs) and opens with the document made of the parts that token can read. Rendering stays
in Python, where every version is tested against the running gateway; the browser only
looks one up.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from app.auth.policy import FIELD_RULES, ROLE_PERMISSIONS, TYPE_READ_SCOPES, Permission
from app.auth.principal import Role


@dataclass(frozen=True)
class Part:
    """One part of the dashboard and who may read it."""

    name: str
    scope: str
    permission: Permission
    title: str

    @property
    def roles(self) -> list[str]:
        """The roles that may read it, as the token's `memberships` spell them."""
        return [role.value for role in Role if self.permission in ROLE_PERMISSIONS[role]]

    @property
    def needs(self) -> str:
        if len(self.roles) == len(Role):
            return self.scope
        *others, last = self.roles
        return f"{self.scope} and the role {', '.join(others)} or {last}"


def _scoped(scope: str | None, what: str) -> str:
    # Each part exists because a scope guards it; a policy without one is a change to
    # look at here, not a part to show to every partner silently.
    if scope is None:
        raise RuntimeError(f"app/auth/policy.py no longer scopes {what}")
    return scope


def _field_scope(type_name: str, field_name: str) -> str:
    return _scoped(FIELD_RULES[(type_name, field_name)].scope, f"{type_name}.{field_name}")


def _type_scope(type_name: str) -> str:
    return _scoped(TYPE_READ_SCOPES[type_name], type_name)


PARTS: tuple[Part, ...] = (
    Part(
        "details",
        _field_scope("Business", "name"),
        FIELD_RULES[("Business", "name")].permission,
        "business names and currencies",
    ),
    Part(
        "balance",
        _field_scope("Business", "balance"),
        FIELD_RULES[("Business", "balance")].permission,
        "balances",
    ),
    Part("invoices", _type_scope("Invoice"), Permission.READ, "latest invoices"),
    Part("customers", _type_scope("Customer"), Permission.READ, "invoices' customers"),
)
ALL_PARTS = frozenset(part.name for part in PARTS)


def _lines(parts: frozenset[str]) -> list[str]:
    lines = ["query Dashboard {", "  viewer {", "    id", "    memberships {", "      role"]
    lines += ["      business {", "        id"]
    if "details" in parts:
        lines += ["        name", "        defaultCurrency"]
    if "balance" in parts:
        lines += ["        balance {", "          available { amount currency formatted }"]
        lines += ["        }"]
    if "invoices" in parts:
        lines += [
            "        invoices(first: 5) {",
            "          edges {",
            "            node {",
            "              id",
            "              number",
            "              status",
            "              dueDate",
            "              isOverdue",
            "              total { amount currency formatted }",
            "              amountDue { amount currency formatted }",
        ]
        if "customers" in parts:
            lines += ["              customer { name }"]
        lines += ["            }", "          }", "          pageInfo { hasNextPage endCursor }"]
        lines += ["        }"]
    return [*lines, "      }", "    }", "  }", "}", ""]


def dashboard_query(parts: frozenset[str] = ALL_PARTS) -> str:
    """The dashboard with these parts; its comment names what is left out and why."""
    unknown = parts - ALL_PARTS
    if unknown:
        raise ValueError(f"unknown dashboard parts: {sorted(unknown)}")
    # An invoice's customer is read through the invoice: nothing to show without them.
    rendered = parts if "invoices" in parts else parts - {"customers"}
    shown = [part.title for part in PARTS if part.name in rendered]
    left_out = [part for part in PARTS if part.name not in parts]
    comment = ["# Your businesses and your role in each" + (", with:" if shown else ".")]
    comment += [f"#   - {title}" for title in shown]
    if left_out:
        comment.append("# Left out, as this token may not read them:")
        comment += [f"#   - {part.title} (needs {part.needs})" for part in left_out]
    comment.append("# Runs with the token in the Headers tab below.")
    return "\n".join(comment + _lines(rendered))


def part_key(parts: frozenset[str]) -> str:
    """How the page names a set of parts: their names, sorted, space-separated."""
    return " ".join(sorted(parts))


def every_part_set() -> list[frozenset[str]]:
    names = [part.name for part in PARTS]
    return [
        frozenset(combination)
        for size in range(len(names) + 1)
        for combination in itertools.combinations(names, size)
    ]


def examples_config() -> dict[str, object]:
    """What the page carries for init.js: each part's rule and every document."""
    return {
        "parts": [{"name": part.name, "scope": part.scope, "roles": part.roles} for part in PARTS],
        "documents": {part_key(parts): dashboard_query(parts) for parts in every_part_set()},
    }


DASHBOARD_QUERY = dashboard_query()
