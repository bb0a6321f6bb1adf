"""What the manifests must say, beyond being valid Kubernetes: the Dockerfile's user and
port, the app's routes for the probes, every credential from a Secret, only settings the
app or its server reads, a startable production configuration, a pinned image, resources,
and selectors that really select the Deployment."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from app.core.settings import SettingsError, load_settings
from tests.deploy.kustomize import Resource, split_image
from tests.deploy.manifests import (
    DEVELOPMENT_ONLY,
    OVERLAY,
    containers,
    dockerfile_exposed_port,
    dockerfile_uid,
    env_by_name,
    known_settings,
    migrate_job,
    only,
    reconciler,
    rendered,
    secret_settings,
    server,
    uvicorn_settings,
    workloads,
)

# What a production gateway must get from the Secret to start and to work with more than
# one replica (shared rate limits, events, an authenticated /metrics).
REQUIRED_SECRETS = frozenset(
    {"DATABASE_URL", "INVOICING_TOKEN", "PAYMENTS_TOKEN", "REDIS_URL", "AMQP_URL", "METRICS_TOKEN"}
)
# Stand-ins for the Secret's values, shaped as production requires them.
FAKE_SECRETS = {
    "DATABASE_URL": "postgresql+asyncpg://gateway:pw@postgresql.data:5432/gateway",
    "DATABASE_URL_IN": "postgresql+asyncpg://gateway:pw@postgresql-in.data:5432/gateway",
    "DATABASE_URL_GB": "postgresql+asyncpg://gateway:pw@postgresql-gb.data:5432/gateway",
    "INVOICING_TOKEN": "invoicing-service-token",
    "PAYMENTS_TOKEN": "payments-service-token",
    "REDIS_URL": "rediss://:pw@redis.data:6379/0",
    "AMQP_URL": "amqps://gateway:pw@rabbitmq.data:5671/",
    "METRICS_TOKEN": "metrics-token",
    "SENTRY_DSN": "https://key@sentry.example.com/1",
}
# app/wiring/background.py gives each background task this long to stop, one after
# another; there are at most four (outbox relay, settler, reconciler, event relay).
BACKGROUND_STOP_SECONDS = 10
BACKGROUND_TASKS = 4


def _config_map() -> dict[str, str]:
    data: dict[str, str] = only(rendered(OVERLAY), "ConfigMap", "fintech-gateway-settings")["data"]
    return data


def _environment(workload: Resource, config: dict[str, str] | None = None) -> dict[str, str]:
    """The environment the container starts with (env wins over envFrom), with the
    Secret's values stood in."""
    container = containers(workload)[0]
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "fintech-gateway-settings"
        environment.update(config if config is not None else _config_map())
    for name, entry in env_by_name(container).items():
        if "value" in entry:
            environment[name] = entry["value"]
        else:
            environment[name] = FAKE_SECRETS[entry["valueFrom"]["secretKeyRef"]["key"]]
    return environment


def _settings_of(environment: dict[str, str]) -> Any:
    fields = {name.lower(): value for name, value in environment.items()}
    return load_settings(**fields)


# --- identity and privileges -------------------------------------------------------


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["metadata"]["name"])
def test_every_pod_runs_as_the_images_user_without_privileges(workload: Resource) -> None:
    # Given each workload, then its pod is non-root as the Dockerfile's uid, with the
    # runtime's seccomp profile and no service-account token.
    pod = workload["spec"]["template"]["spec"]
    uid = dockerfile_uid()
    assert uid == 10001
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "fsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    for container in containers(workload):
        assert container["securityContext"] == {
            "allowPrivilegeEscalation": False,
            "privileged": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        }
        # The one writable place is a bounded emptyDir.
        mounts = [m["mountPath"] for m in container["volumeMounts"]]
        assert mounts == ["/tmp"]  # noqa: S108 - a path in the pod, not a file the test opens
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]


def test_the_service_account_mounts_no_token() -> None:
    account = only(rendered(OVERLAY), "ServiceAccount", "fintech-gateway")
    assert account["automountServiceAccountToken"] is False
    for workload in workloads():
        assert workload["spec"]["template"]["spec"]["serviceAccountName"] == "fintech-gateway"


def test_the_namespace_enforces_the_restricted_pod_security_profile() -> None:
    namespace = only(rendered(OVERLAY), "Namespace", "fintech-gateway")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


# --- probes and ports ----------------------------------------------------------------


def _app_routes() -> dict[str, set[str]]:
    from starlette.routing import Route

    from app.main import create_app

    app = create_app(load_settings(app_env="development"))
    return {
        route.path: set(route.methods or ()) for route in app.routes if isinstance(route, Route)
    }


@pytest.mark.parametrize("workload", [server(), reconciler()], ids=["server", "reconciler"])
def test_probes_use_the_apps_health_routes_on_the_images_port(workload: Resource) -> None:
    # Given the Dockerfile's EXPOSE and the app's routes, then readiness asks /readyz,
    # liveness and start-up ask /healthz, on the container port the image listens on.
    container = containers(workload)[0]
    port = dockerfile_exposed_port()
    assert container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    probes = {kind: container[kind]["httpGet"] for kind in ("readinessProbe", "livenessProbe")}
    probes["startupProbe"] = container["startupProbe"]["httpGet"]
    assert probes == {
        "readinessProbe": {"path": "/readyz", "port": "http"},
        "livenessProbe": {"path": "/healthz", "port": "http"},
        "startupProbe": {"path": "/healthz", "port": "http"},
    }
    routes = _app_routes()
    for path in ("/readyz", "/healthz"):
        assert "GET" in routes[path]
    # /readyz's checks time out after 2 s (app/http/health.py): the probe waits longer.
    from app.http.health import CHECK_TIMEOUT_SECONDS

    assert container["readinessProbe"]["timeoutSeconds"] > CHECK_TIMEOUT_SECONDS


def test_the_dockerfile_serves_on_the_exposed_port() -> None:
    from tests.deploy.manifests import dockerfile

    assert '"--port", "8000"' in dockerfile()
    assert dockerfile_exposed_port() == 8000


def test_the_service_targets_the_named_port_of_the_serving_pods_only() -> None:
    service = only(rendered(OVERLAY), "Service", "fintech-gateway")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    selector = service["spec"]["selector"]
    assert _selects(selector, server())
    assert not _selects(selector, reconciler())
    assert not _selects(selector, migrate_job())


# --- settings and secrets ------------------------------------------------------------


def test_every_setting_named_is_one_the_app_or_its_server_reads() -> None:
    # Given the ConfigMap's keys and every container's env names, then each is in the
    # contracts' settings table, app/core/settings.py, or uvicorn's own options.
    known = known_settings()
    names = set(_config_map())
    for workload in workloads():
        for container in containers(workload):
            names |= set(env_by_name(container))
    assert names - known == set()
    assert names & DEVELOPMENT_ONLY == set()


def test_the_known_settings_are_really_read() -> None:
    # The allow-list above comes from the sources, not from a hand-written list.
    assert {"REQUEST_TIMEOUT_SECONDS", "AMQP_URL", "DATABASE_URL_IN"} <= known_settings()
    assert {"UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN", "FORWARDED_ALLOW_IPS"} <= uvicorn_settings()
    assert "UVICORN_NO_SUCH_OPTION" not in known_settings()


def test_every_credential_comes_from_the_secret_and_never_from_a_literal() -> None:
    # Given the settings that hold credentials, then each one a container has comes from
    # a secretKeyRef of the Secret `fintech-gateway` under its own name, and none is in
    # the ConfigMap.
    secrets = secret_settings()
    assert {"DATABASE_URL", "INVOICING_TOKEN", "METRICS_TOKEN", "REDIS_URL"} <= secrets
    assert set(_config_map()) & secrets == set()
    for workload in workloads():
        for container in containers(workload):
            for name, entry in env_by_name(container).items():
                if name not in secrets:
                    continue
                assert "value" not in entry, name
                assert entry["valueFrom"]["secretKeyRef"]["name"] == "fintech-gateway"
                assert entry["valueFrom"]["secretKeyRef"]["key"] == name
    assert not any(r["kind"] == "Secret" for r in rendered(OVERLAY))


@pytest.mark.parametrize("workload", [server(), reconciler()], ids=["server", "reconciler"])
def test_the_gateway_gets_every_secret_it_needs(workload: Resource) -> None:
    env = env_by_name(containers(workload)[0])
    required = {
        name
        for name, entry in env.items()
        if "valueFrom" in entry and not entry["valueFrom"]["secretKeyRef"].get("optional", False)
    }
    assert required == REQUIRED_SECRETS


def test_the_migrations_job_gets_the_databases_only() -> None:
    # `python -m app migrate` reads DatabaseSettings: no service token goes to the Job.
    container = containers(migrate_job())[0]
    assert container["command"] == ["python", "-m", "app", "migrate"]
    assert set(env_by_name(container)) == {
        "APP_ENV",
        "DATABASE_URL",
        "DATABASE_URL_IN",
        "DATABASE_URL_GB",
    }


@pytest.mark.parametrize("workload", [server(), reconciler()], ids=["server", "reconciler"])
def test_the_rendered_environment_is_a_gateway_production_accepts(workload: Resource) -> None:
    # Given the overlay's ConfigMap and env, with the Secret's values stood in, then the
    # app's own production guards accept it (https, no sandbox, nothing missing).
    settings = _settings_of(_environment(workload))
    assert settings.app_env == "production"
    assert settings.metrics_token is not None
    assert settings.redis_url is not None
    assert settings.trusted_proxies


def test_a_configuration_production_refuses_is_caught() -> None:
    # Given the ConfigMap without the JWKS URL and with a plain-http service, then the
    # same check fails naming both: the test above would catch such a manifest.
    config = dict(_config_map())
    del config["JWT_JWKS_URL"]
    config["PAYMENTS_URL"] = "http://payments.payments-platform.svc.cluster.local"
    with pytest.raises(SettingsError) as refused:
        _settings_of(_environment(server(), config))
    assert "JWT_JWKS_URL: required" in str(refused.value)
    assert "PAYMENTS_URL: must be https://" in str(refused.value)


def test_uvicorn_and_the_app_trust_the_same_proxies() -> None:
    config = _config_map()
    assert config["TRUSTED_PROXIES"] == config["FORWARDED_ALLOW_IPS"] != ""


def test_only_the_reconciler_reconciles() -> None:
    assert _environment(server())["RECONCILE_INTERVAL_SECONDS"] == "0"
    assert float(_environment(reconciler())["RECONCILE_INTERVAL_SECONDS"]) > 0
    assert reconciler()["spec"]["replicas"] == 1


def test_the_reconciler_runs_the_servers_pod_but_for_its_role() -> None:
    # The two Deployments are written out in full (kustomize has no templates): they may
    # differ only in labels, the reconcile setting, resources and spread.
    def comparable(workload: Resource) -> Resource:
        pod: Resource = copy.deepcopy(workload["spec"]["template"]["spec"])
        pod.pop("topologySpreadConstraints", None)
        container = pod["containers"][0]
        container.pop("resources")
        container["env"] = [
            e for e in container["env"] if e["name"] != "RECONCILE_INTERVAL_SECONDS"
        ]
        return pod

    assert comparable(reconciler()) == comparable(server())


# --- shutdown -------------------------------------------------------------------------


def test_the_grace_period_covers_draining_and_the_background_tasks() -> None:
    # Given REQUEST_TIMEOUT_SECONDS, then uvicorn's drain outlasts any request, and the
    # grace period outlasts preStop + drain + the background tasks' stop.
    environment = _environment(server())
    request_timeout = float(environment["REQUEST_TIMEOUT_SECONDS"])
    drain = float(environment["UVICORN_TIMEOUT_GRACEFUL_SHUTDOWN"])
    assert drain > request_timeout
    pod = server()["spec"]["template"]["spec"]
    pre_stop = pod["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    background = BACKGROUND_STOP_SECONDS * BACKGROUND_TASKS
    assert pod["terminationGracePeriodSeconds"] > float(pre_stop[1]) + drain + background


def test_the_background_stop_bound_is_the_apps() -> None:
    from pathlib import Path

    import app.wiring.background as background

    source = Path(background.__file__).read_text(encoding="utf-8")
    assert f"asyncio.wait_for(task, timeout={BACKGROUND_STOP_SECONDS})" in source


# --- image and resources --------------------------------------------------------------


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["metadata"]["name"])
def test_images_are_pinned_to_a_release(workload: Resource) -> None:
    for container in containers(workload):
        name, tag = split_image(container["image"])
        assert "/" in name, "the overlay names the registry"
        assert tag not in ("", "latest"), container["image"]
        assert container["imagePullPolicy"] == "IfNotPresent"


def test_an_untagged_image_counts_as_latest() -> None:
    assert split_image("registry.example.com:5000/gateway") == (
        "registry.example.com:5000/gateway",
        "",
    )
    assert split_image("gateway@sha256:abc")[1] == "sha256:abc"


@pytest.mark.parametrize("workload", workloads(), ids=lambda w: w["metadata"]["name"])
def test_every_container_has_requests_and_limits(workload: Resource) -> None:
    for container in containers(workload):
        resources = container["resources"]
        assert set(resources) == {"requests", "limits"}
        assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
        assert _mebibytes(resources["requests"]["memory"]) <= _mebibytes(
            resources["limits"]["memory"]
        )


def test_the_servers_memory_request_covers_the_benchs_peak_rss() -> None:
    # bench/README.md: peak RSS per worker, under 32 connections.
    peak_mib = _bench_peak_rss_mb() * 1e6 / 2**20
    resources = containers(server())[0]["resources"]
    assert _mebibytes(resources["requests"]["memory"]) >= peak_mib * 1.15
    assert _mebibytes(resources["limits"]["memory"]) >= peak_mib * 2
    # One event loop uses one CPU: the request is one core.
    assert resources["requests"]["cpu"] == "1000m"


def _mebibytes(quantity: str) -> float:
    units = {"Mi": 1.0, "Gi": 1024.0}
    return float(quantity[:-2]) * units[quantity[-2:]]


# --- HPA, PDB, NetworkPolicy ----------------------------------------------------------


def _selects(selector: dict[str, Any], workload: Resource) -> bool:
    labels = workload["spec"]["template"]["metadata"]["labels"]
    match_labels = selector.get(
        "matchLabels", selector if "matchExpressions" not in selector else {}
    )
    if any(labels.get(key) != value for key, value in match_labels.items()):
        return False
    for expression in selector.get("matchExpressions", []):
        assert expression["operator"] == "In"
        if labels.get(expression["key"]) not in expression["values"]:
            return False
    return True


def test_the_hpa_scales_the_serving_deployment_on_cpu() -> None:
    hpa = only(rendered(OVERLAY), "HorizontalPodAutoscaler", "fintech-gateway")
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": server()["metadata"]["name"],
    }
    assert [m["resource"]["name"] for m in hpa["spec"]["metrics"]] == ["cpu"]
    assert hpa["spec"]["minReplicas"] >= 2
    # The HPA owns the replica count: an apply must not reset it.
    assert "replicas" not in server()["spec"]


def test_the_hpa_ceiling_fits_postgresqls_connections() -> None:
    # app/db/engine.py: pool_size 10 + max_overflow 10 per process.
    from pathlib import Path

    import app.db.engine as engine

    source = Path(engine.__file__).read_text(encoding="utf-8")
    assert "pool_size=10," in source
    assert "max_overflow=10," in source
    hpa = only(rendered(OVERLAY), "HorizontalPodAutoscaler", "fintech-gateway")
    # docs/operations.md sizes PostgreSQL for this: (replicas + reconciler) x 20 + job.
    assert (hpa["spec"]["maxReplicas"] + 1) * 20 + 20 <= 250


def test_the_pdb_selects_exactly_the_serving_pods() -> None:
    pdb = only(rendered(OVERLAY), "PodDisruptionBudget", "fintech-gateway")
    selector = pdb["spec"]["selector"]
    assert selector["matchLabels"] == server()["spec"]["selector"]["matchLabels"]
    assert _selects(selector, server())
    assert not _selects(selector, reconciler())
    hpa = only(rendered(OVERLAY), "HorizontalPodAutoscaler", "fintech-gateway")
    # A drain always leaves at least one serving pod.
    assert pdb["spec"]["maxUnavailable"] < hpa["spec"]["minReplicas"]


def test_the_deployments_selector_matches_its_template() -> None:
    for workload in (server(), reconciler()):
        assert _selects(workload["spec"]["selector"], workload)


def test_the_pods_are_spread_across_zones_and_nodes() -> None:
    spread = server()["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert {c["topologyKey"] for c in spread} == {
        "topology.kubernetes.io/zone",
        "kubernetes.io/hostname",
    }
    for constraint in spread:
        assert _selects(constraint["labelSelector"], server())


def _policies() -> list[Resource]:
    resources = rendered(OVERLAY) + rendered(OVERLAY / "migrate")
    return [r for r in resources if r["kind"] == "NetworkPolicy"]


def test_every_workload_is_under_a_network_policy_both_ways() -> None:
    for workload in workloads():
        policies = [p for p in _policies() if _selects(p["spec"]["podSelector"], workload)]
        assert len(policies) == 1, workload["metadata"]["name"]
        assert policies[0]["spec"]["policyTypes"] == ["Ingress", "Egress"]


def test_the_gateway_admits_only_the_ingress_controller_and_the_scraper() -> None:
    policy = next(p for p in _policies() if _selects(p["spec"]["podSelector"], server()))
    sources = [
        (rule["from"][0]["namespaceSelector"]["matchLabels"], rule["ports"])
        for rule in policy["spec"]["ingress"]
    ]
    port = [{"port": dockerfile_exposed_port(), "protocol": "TCP"}]
    assert sources == [
        ({"kubernetes.io/metadata.name": "ingress-nginx"}, port),
        ({"kubernetes.io/metadata.name": "monitoring"}, port),
    ]


def test_the_gateway_reaches_only_its_dependencies() -> None:
    policy = next(p for p in _policies() if _selects(p["spec"]["podSelector"], server()))
    destinations = []
    for rule in policy["spec"]["egress"]:
        peer = rule["to"][0]
        name = (
            peer["podSelector"]["matchLabels"].get("app.kubernetes.io/name")
            or peer["podSelector"]["matchLabels"].get("k8s-app")
            if "podSelector" in peer
            else "ipBlock"
        )
        destinations.append((name, sorted(p["port"] for p in rule["ports"])))
    assert destinations == [
        ("kube-dns", [53, 53]),
        ("postgresql", [5432]),
        ("redis", [6379]),
        ("rabbitmq", [5671]),
        ("invoicing", [8443]),
        ("payments", [8443]),
        ("ipBlock", [443]),
    ]


def test_the_migrations_job_takes_no_traffic_and_reaches_the_database_only() -> None:
    policy = next(p for p in _policies() if _selects(p["spec"]["podSelector"], migrate_job()))
    assert policy["spec"]["ingress"] == []
    names = [r["to"][0]["podSelector"]["matchLabels"] for r in policy["spec"]["egress"]]
    assert names == [{"k8s-app": "kube-dns"}, {"app.kubernetes.io/name": "postgresql"}]


# --- the bench's numbers, where the manifests and docs quote them ----------------------


def _bench_dashboard_row() -> tuple[str, str]:
    """README "Performance": (requests/s per worker, CPU ms per request) of scenario a."""
    from tests.paths import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    row = next(line for line in readme.splitlines() if line.startswith("| a) dashboard"))
    cells = [cell.strip() for cell in row.split("|")]
    return cells[2], cells[6].split("/")[0].strip()


def _bench_peak_rss_mb() -> int:
    import re

    from tests.paths import REPO_ROOT

    bench = (REPO_ROOT / "bench" / "README.md").read_text(encoding="utf-8")
    match = re.search(r"Peak RSS per worker: (\d+) MB", bench)
    assert match is not None
    return int(match.group(1))


def test_the_sizing_quotes_the_latest_bench() -> None:
    # Given the bench's published figures, then the Deployment's comments and
    # docs/operations.md quote them: a new bench run that changes them fails here until
    # the sizing is looked at again.
    from tests.deploy.manifests import K8S_DIR
    from tests.paths import REPO_ROOT

    per_worker, cpu_ms = _bench_dashboard_row()
    peak = _bench_peak_rss_mb()
    deployment = (K8S_DIR / "base" / "deployment.yaml").read_text(encoding="utf-8")
    operations = (REPO_ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    assert f"{per_worker} dashboards/s" in deployment
    assert f"{cpu_ms} ms of CPU" in deployment
    assert f"peak RSS {peak} MB" in deployment
    assert f"| a) dashboard, 50 invoices | {per_worker} | {cpu_ms} |" in operations
    assert f"peak RSS {peak} MB" in operations
    requested = _mebibytes(containers(server())[0]["resources"]["requests"]["memory"])
    assert requested >= peak * 1e6 / 2**20 * 1.15
