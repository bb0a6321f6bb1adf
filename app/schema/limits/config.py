"""The limits one GraphQL document is held to, from the settings (README "Limits")."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.settings import Settings


@dataclass(frozen=True, slots=True)
class Limits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_directives: int = 50
    max_cost: int = 500
    max_errors: int = 10
    max_fields: int = 500
    max_repeated_fields: int = 20
    introspection_cost: int = 200
    # 0: a JSON array of operations is refused.
    max_batch: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            max_directives=settings.graphql_max_directives,
            max_cost=settings.graphql_max_cost,
            max_errors=settings.graphql_max_errors,
            max_fields=settings.graphql_max_fields,
            max_repeated_fields=settings.graphql_max_repeated_fields,
            introspection_cost=settings.graphql_introspection_cost,
            max_batch=settings.graphql_max_batch,
        )
