"""Errors the schema reports, each with a stable `extensions.code`."""

from __future__ import annotations

from typing import NoReturn

from graphql import GraphQLError


class NotFoundError(GraphQLError):
    """Missing, or another business's: the two are indistinguishable on purpose."""

    def __init__(self) -> None:
        super().__init__("Not found.", extensions={"code": "NOT_FOUND"})


def not_found() -> NoReturn:
    raise NotFoundError


class ForbiddenError(GraphQLError):
    def __init__(self, message: str = "Your role or token scope does not allow this.") -> None:
        super().__init__(message, extensions={"code": "FORBIDDEN"})


class BadUserInputError(GraphQLError):
    def __init__(self, message: str) -> None:
        super().__init__(message, extensions={"code": "BAD_USER_INPUT"})
