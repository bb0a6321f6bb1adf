"""`python -m app manifest`: a client's trusted documents, from its `.graphql` files.

Every file must parse, hold at least one operation and validate against the gateway's
schema; all problems are reported together, naming the file. The documents are stored
exactly as written, since the hash a client sends is of its exact text.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from graphql import GraphQLError, GraphQLSchema, OperationDefinitionNode, parse, validate
from graphql import build_schema as build_sdl_schema

from app.persisted import document_hash
from app.persisted.manifest import CLIENT_NAME, ManifestError, load_manifest, write_manifest
from app.schema.build import build_schema


def gateway_schema() -> GraphQLSchema:
    return build_sdl_schema(build_schema().as_str())


def client_documents(paths: Iterable[Path], schema: GraphQLSchema) -> dict[str, str]:
    documents: dict[str, str] = {}
    problems: list[str] = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{path}: cannot be read ({type(exc).__name__})")
            continue
        try:
            document = parse(text)
        except GraphQLError as exc:
            problems.append(f"{path}: {exc.message}")
            continue
        if not any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
            problems.append(f"{path}: holds no operation")
            continue
        problems += [f"{path}: {error.message}" for error in validate(schema, document)]
        documents[document_hash(text)] = text
    if problems:
        raise ManifestError("\n".join(problems))
    if not documents:
        raise ManifestError("no .graphql files given")
    return documents


def update_manifest(output: Path, client: str, paths: Iterable[Path]) -> int:
    """Replaces `client`'s documents in `output` (other clients kept); returns the count."""
    if not CLIENT_NAME.fullmatch(client):
        raise ManifestError(f"client name {client!r} is not [a-z][a-z0-9_-]*")
    documents = client_documents(paths, gateway_schema())
    manifest = load_manifest(output) if output.exists() else {}
    manifest[client] = documents
    write_manifest(output, manifest)
    return len(documents)
