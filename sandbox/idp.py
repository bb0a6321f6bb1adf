"""A stand-in identity provider for local use: publishes the dev signing key's JWKS."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from sandbox.devkeys import jwks_document

JWKS_PATH = "/.well-known/jwks.json"


def create_idp_app(private_key: rsa.RSAPrivateKey) -> Starlette:
    # Built once: the key does not change while the app runs.
    document = jwks_document(private_key)

    async def jwks(request: Request) -> JSONResponse:
        return JSONResponse(document, headers={"Cache-Control": "public, max-age=300"})

    return Starlette(routes=[Route(JWKS_PATH, jwks, methods=["GET"])])
