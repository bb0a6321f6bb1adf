"""Every manifest in deploy/k8s validates against the JSON schemas of a pinned Kubernetes
version (kubernetes-validate carries them: no cluster, no download), in strict mode, so a
misspelt or misplaced field fails as the API server would refuse it."""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate  # type: ignore[import-untyped]
import pytest
import yaml

from tests.deploy.kustomize import KustomizeError, Resource, load_documents, render
from tests.deploy.manifests import K8S_DIR, KUSTOMIZATIONS, OVERLAY, rendered, server

# The oldest Kubernetes minor the manifests must apply to (matchLabelKeys in topology
# spread constraints and the PDB's unhealthyPodEvictionPolicy are on by default since
# 1.27, and GA by then). Raise it when the clusters move.
KUBERNETES_VERSION = "1.34"


def validate(resource: Resource) -> None:
    kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)


def _kustomization_files() -> dict[Path, set[Path]]:
    """Each kustomization and the files it names (resources and patches)."""
    named: dict[Path, set[Path]] = {}
    for directory in KUSTOMIZATIONS:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text("utf-8"))
        files = {(directory / entry).resolve() for entry in kustomization.get("resources", [])}
        files |= {(directory / p["path"]).resolve() for p in kustomization.get("patches", [])}
        named[directory] = files
    return named


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=lambda p: str(p.relative_to(K8S_DIR)))
def test_every_rendered_resource_validates_strictly(directory: Path) -> None:
    # Given a kustomization, when it is rendered, then each resource is valid Kubernetes.
    resources = rendered(directory)
    assert resources
    for resource in resources:
        validate(resource)


def test_every_resource_file_validates_on_its_own() -> None:
    # Given every file a kustomization lists as a resource (or as a patch that is a whole
    # object), then each document in it is valid on its own.
    resource_files = [
        path
        for files in _kustomization_files().values()
        for path in files
        if path.is_file() and path.suffix == ".yaml"
    ]
    assert len(resource_files) >= 10
    for path in resource_files:
        for document in load_documents(path):
            if isinstance(document, dict):
                validate(document)


def test_no_yaml_file_under_deploy_k8s_is_left_out_of_a_kustomization() -> None:
    # A stray manifest would be neither applied nor validated.
    named = set().union(*_kustomization_files().values())
    named |= {(directory / "kustomization.yaml").resolve() for directory in KUSTOMIZATIONS}
    on_disk = {path.resolve() for path in K8S_DIR.rglob("*.yaml")}
    assert on_disk - named == set()


def test_the_validator_refuses_a_field_kubernetes_does_not_have() -> None:
    # Given the Deployment with a misspelt probe field, then validation fails: strict
    # schemas are in force, so the checks above mean something.
    deployment = copy.deepcopy(server())
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinessProbe"]["periodSecond"] = 5
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


def test_the_validator_refuses_a_wrong_type() -> None:
    deployment = copy.deepcopy(server())
    deployment["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"] = "8000"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(deployment)


def test_the_renderer_refuses_a_kustomize_feature_it_does_not_implement(tmp_path: Path) -> None:
    # The tests render the overlays themselves: a feature they ignore must not pass.
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\ncommonLabels:\n  team: payments\n", encoding="utf-8"
    )
    with pytest.raises(KustomizeError, match="commonLabels"):
        render(tmp_path)


def test_the_overlay_sets_namespace_image_and_patches() -> None:
    # Given the example overlay, then its transformations are in the rendered output.
    resources = rendered(OVERLAY)
    assert {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"} == {
        "fintech-gateway"
    }
    image = server(resources)["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "registry.example.com/fintech/gateway:0.1.0"
    policy = next(r for r in resources if r["kind"] == "NetworkPolicy")
    assert policy["spec"]["egress"][-1]["to"] == [{"ipBlock": {"cidr": "203.0.113.0/24"}}]
