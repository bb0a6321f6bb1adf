"""The part of kustomize that deploy/k8s uses, to render its overlays offline in tests.

kustomize is a Go binary, not a Python package, and the tests must run without a
cluster or a download. The manifests use four of its features, which this renders as
kustomize does: `resources` (files and directories), `namespace`, `images` (by name) and
`patches` (strategic merge by file, or a JSON 6902 list with a `target`). Any other key
in a kustomization is refused here, so a manifest cannot come to depend on a feature
these tests would silently ignore.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

Resource = dict[str, Any]
SUPPORTED_KEYS = frozenset({"apiVersion", "kind", "namespace", "resources", "images", "patches"})
# Kinds that live outside a namespace, which the namespace transformer leaves alone.
CLUSTER_SCOPED = frozenset({"Namespace", "ClusterRole", "ClusterRoleBinding"})


class KustomizeError(ValueError):
    """A kustomization these tests cannot render faithfully."""


def load_documents(path: Path) -> list[Resource]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def render(directory: Path) -> list[Resource]:
    """The resources `kubectl kustomize directory` would print."""
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
    unknown = set(kustomization) - SUPPORTED_KEYS
    if unknown:
        raise KustomizeError(f"{directory}: unsupported kustomization keys {sorted(unknown)}")
    resources: list[Resource] = []
    for entry in kustomization.get("resources", []):
        target = (directory / entry).resolve()
        resources += render(target) if target.is_dir() else load_documents(target)
    for patch in kustomization.get("patches", []):
        _apply_patch(resources, directory / patch["path"], patch.get("target"))
    for image in kustomization.get("images", []):
        _set_image(resources, image)
    if "namespace" in kustomization:
        _set_namespace(resources, kustomization["namespace"])
    return resources


def pod_spec(resource: Resource) -> Resource | None:
    if resource["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        spec: Resource = resource["spec"]["template"]["spec"]
        return spec
    return None


def _find(resources: list[Resource], kind: str, name: str) -> Resource:
    for resource in resources:
        if resource["kind"] == kind and resource["metadata"]["name"] == name:
            return resource
    raise KustomizeError(f"patch target {kind}/{name} not among the resources")


def _apply_patch(resources: list[Resource], path: Path, target: Resource | None) -> None:
    documents = yaml.safe_load(path.read_text(encoding="utf-8"))
    if target is None:
        patch: Resource = documents
        resource = _find(resources, patch["kind"], patch["metadata"]["name"])
        merged = _merge(resource, patch)
        resource.clear()
        resource.update(merged)
        return
    resource = _find(resources, target["kind"], target["name"])
    for operation in documents:
        _json_patch(resource, operation)


def _merge(base: Any, patch: Any) -> Any:
    """Strategic merge as kustomize does it for the fields used here: maps merge key by
    key, lists of named maps (containers, env, ports, volumes) merge by name, any other
    list is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = copy.deepcopy(base)
        for key, value in patch.items():
            merged[key] = _merge(base[key], value) if key in base else copy.deepcopy(value)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        merged_list = copy.deepcopy(base)
        for item in patch:
            for index, existing in enumerate(merged_list):
                if existing["name"] == item["name"]:
                    merged_list[index] = _merge(existing, item)
                    break
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _json_patch(resource: Resource, operation: Resource) -> None:
    op = operation["op"]
    parts = [
        part.replace("~1", "/").replace("~0", "~") for part in operation["path"][1:].split("/")
    ]
    parent: Any = resource
    try:
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    except (IndexError, KeyError, ValueError):
        raise KustomizeError(f"no such path {operation['path']}") from None
    last = parts[-1]
    if op == "replace":
        # Like kustomize, replacing what is not there is an error, not an add.
        if isinstance(parent, list):
            parent[int(last)] = operation["value"]
        elif last in parent:
            parent[last] = operation["value"]
        else:
            raise KustomizeError(f"replace of a missing path {operation['path']}")
    elif op == "add" and isinstance(parent, list):
        parent.insert(len(parent) if last == "-" else int(last), operation["value"])
    elif op == "add":
        parent[last] = operation["value"]
    else:
        raise KustomizeError(f"unsupported JSON patch operation {op!r}")


def _set_image(resources: list[Resource], image: Resource) -> None:
    for resource in resources:
        spec = pod_spec(resource)
        for container in (spec or {}).get("containers", []) + (spec or {}).get(
            "initContainers", []
        ):
            name, tag = split_image(container["image"])
            if name != image["name"]:
                continue
            new_name = image.get("newName", name)
            if "digest" in image:
                container["image"] = f"{new_name}@{image['digest']}"
            else:
                container["image"] = f"{new_name}:{image.get('newTag', tag)}"


def split_image(reference: str) -> tuple[str, str]:
    """(name, tag or digest); the tag is "" when the reference has none."""
    if "@" in reference:
        name, digest = reference.split("@", 1)
        return name, digest
    slash = reference.rfind("/")
    colon = reference.rfind(":")
    if colon > slash:
        return reference[:colon], reference[colon + 1 :]
    return reference, ""


def _set_namespace(resources: list[Resource], namespace: str) -> None:
    for resource in resources:
        if resource["kind"] == "Namespace":
            resource["metadata"]["name"] = namespace
        elif resource["kind"] not in CLUSTER_SCOPED:
            resource["metadata"]["namespace"] = namespace
