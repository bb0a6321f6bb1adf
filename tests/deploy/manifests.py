"""The repository's deployment files, loaded for the deploy tests: the kustomizations
under deploy/k8s rendered (tests/deploy/kustomize.py), and what the Dockerfile, the
contracts and the app say the manifests must agree with."""

from __future__ import annotations

import re
import sys
from functools import cache
from pathlib import Path
from typing import Any

import click

from app.core.settings import Settings
from tests.deploy.kustomize import Resource, render
from tests.paths import CONTRACTS_DIR, REPO_ROOT

DEPLOY_DIR = REPO_ROOT / "deploy"
K8S_DIR = DEPLOY_DIR / "k8s"
KUSTOMIZATIONS = (
    K8S_DIR / "base",
    K8S_DIR / "migrate",
    K8S_DIR / "overlays" / "example",
    K8S_DIR / "overlays" / "example" / "migrate",
)
# What a cluster gets: the overlays, each applied on its own.
OVERLAY = K8S_DIR / "overlays" / "example"
MIGRATE_OVERLAY = OVERLAY / "migrate"

# Settings that carry a credential but are not yet fields of app/core/settings.py on
# every branch: contracts/README.md names them (connection URLs with a user and password).
CONTRACT_CREDENTIALS = frozenset({"AMQP_URL", "DATABASE_URL_IN", "DATABASE_URL_GB"})
# Development only: production refuses to start with them (app/core/settings.py).
DEVELOPMENT_ONLY = frozenset({"JWT_DEV_SECRET", "GRAPHIQL_DEMO_TOKEN", "DEV_DATA_DIR"})


@cache
def rendered(directory: Path) -> tuple[Resource, ...]:
    return tuple(render(directory))


def only(resources: tuple[Resource, ...], kind: str, name: str) -> Resource:
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def server(resources: tuple[Resource, ...] | None = None) -> Resource:
    return only(resources or rendered(OVERLAY), "Deployment", "fintech-gateway")


def reconciler(resources: tuple[Resource, ...] | None = None) -> Resource:
    return only(resources or rendered(OVERLAY), "Deployment", "fintech-gateway-reconciler")


def migrate_job() -> Resource:
    return only(rendered(MIGRATE_OVERLAY), "Job", "fintech-gateway-migrate")


def workloads() -> list[Resource]:
    return [server(), reconciler(), migrate_job()]


def containers(workload: Resource) -> list[Resource]:
    spec = workload["spec"]["template"]["spec"]
    result: list[Resource] = spec["containers"] + spec.get("initContainers", [])
    return result


def secret_settings() -> frozenset[str]:
    """Every setting the app reads that holds a credential: a SecretStr, or a field kept
    out of repr because it may carry a password (URLs), and the contracts' other URLs."""
    names = {
        name.upper()
        for name, field in Settings.model_fields.items()
        if not field.repr or "SecretStr" in str(field.annotation)
    }
    return frozenset(names | CONTRACT_CREDENTIALS)


def contract_settings() -> frozenset[str]:
    """The names in contracts/README.md's settings table (first column, in backticks)."""
    text = (CONTRACTS_DIR / "README.md").read_text(encoding="utf-8")
    table = text.split("## Settings (environment variables)", 1)[1]
    names: set[str] = set()
    for line in table.splitlines():
        if not line.startswith("| `"):
            continue
        first_cell = line.split("|")[1]
        names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return frozenset(names)


def uvicorn_settings() -> frozenset[str]:
    """What uvicorn itself reads from the environment of the image's CMD: its CLI's options
    as UVICORN_* (click's auto_envvar_prefix) and FORWARDED_ALLOW_IPS (its config)."""
    import uvicorn.config
    import uvicorn.main  # noqa: F401 - registers the module

    command = sys.modules["uvicorn.main"].main
    assert isinstance(command, click.Command)
    options = {
        "UVICORN_" + opt.lstrip("-").replace("-", "_").upper()
        for param in command.params
        for opt in param.opts
        if opt.startswith("--")
    }
    config_source = Path(uvicorn.config.__file__).read_text(encoding="utf-8")
    if '"FORWARDED_ALLOW_IPS"' in config_source:
        options.add("FORWARDED_ALLOW_IPS")
    return frozenset(options)


def known_settings() -> frozenset[str]:
    app_names = {name.upper() for name in Settings.model_fields}
    return frozenset(app_names | contract_settings() | uvicorn_settings())


def dockerfile() -> str:
    return (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8")


def dockerfile_exposed_port() -> int:
    match = re.search(r"^EXPOSE (\d+)$", dockerfile(), re.MULTILINE)
    assert match is not None
    return int(match.group(1))


def dockerfile_uid() -> int:
    match = re.search(r"useradd --system --uid (\d+) ", dockerfile())
    assert match is not None
    return int(match.group(1))


def env_by_name(container: Resource) -> dict[str, Any]:
    return {entry["name"]: entry for entry in container.get("env", [])}
