"""Downstream records to public schema objects."""

from __future__ import annotations

import strawberry

from app.clients import models
from auth.principal import Role as PrincipalRole
from schema.business import Business
from schema.enums import CountryCode, CurrencyCode, Role


def to_role(role: PrincipalRole) -> Role:
    return Role(role.value)


def to_business(record: models.Business) -> Business:
    return Business(
        id=strawberry.ID(record.id),
        name=record.name,
        country=CountryCode(record.country),
        default_currency=CurrencyCode(record.default_currency),
    )
