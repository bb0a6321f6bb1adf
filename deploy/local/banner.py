"""What the cluster prints once it is ready: where everything is, and tokens to try it.

Tokens are minted with this run's signing key (published by the cluster's identity
provider) and the cluster's issuer: they are good for this run only. The metrics token is
this run's too; /metrics answers 401 without it, as in production.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import rsa

from app.auth.principal import Role
from deploy.local.backing import without_password
from deploy.local.haproxy import server_name
from deploy.local.topology import AUDIENCE, INVOICING_TOKEN, ISSUER, PAYMENTS_TOKEN, url
from sandbox.devkeys import mint_token
from sandbox.seed import GB_BUSINESS_ID, IN_BUSINESS_ID

if TYPE_CHECKING:
    from deploy.local.cluster import Running

OWNER = f"owner of {GB_BUSINESS_ID}"
VIEWER = f"viewer of {GB_BUSINESS_ID}"
_PEOPLE: dict[str, tuple[str, list[tuple[str, Role]]]] = {
    OWNER: ("cluster_owner", [(GB_BUSINESS_ID, Role.OWNER)]),
    f"accountant of {GB_BUSINESS_ID}": ("cluster_accountant", [(GB_BUSINESS_ID, Role.ACCOUNTANT)]),
    VIEWER: ("cluster_viewer", [(GB_BUSINESS_ID, Role.VIEWER)]),
    f"owner of {IN_BUSINESS_ID}": ("cluster_owner_in", [(IN_BUSINESS_ID, Role.OWNER)]),
}


def demo_tokens(private_key: rsa.RSAPrivateKey) -> dict[str, str]:
    return {
        label: mint_token(
            private_key,
            issuer=ISSUER,
            audience=AUDIENCE,
            subject=subject,
            memberships=memberships,
        )
        for label, (subject, memberships) in _PEOPLE.items()
    }


def print_banner(running: Running) -> None:
    ports, shared = running.ports, running.backing
    lb = url(ports.lb)
    pids = {child.name: child.pid for child in running.children}
    invoicing, payments = pids["sandbox-invoicing"], pids["sandbox-payments"]
    database = without_password(shared.database_url).replace("+asyncpg", "", 1)
    lines = [
        "=" * 78,
        f"Local cluster: {len(ports.gateways)} gateways (APP_ENV=production) behind HAProxy",
        f"Load balancer: {lb}/graphql   ready: {lb}/readyz   (pid {pids.get('haproxy')})",
        f"HAProxy stats: {url(ports.stats)}/   (round robin, health checks on /readyz)",
        "Gateways, directly:",
    ]
    for index, port in enumerate(ports.gateways):
        name = server_name(index)
        lines.append(
            f"  {name}: {url(port)}/graphql   metrics: {url(port)}/metrics (pid {pids[name]})"
        )
    lines += [
        f"Metrics token: Authorization: Bearer {running.metrics_token}",
        f"Database: {database} (recreated at start, kept after stop)",
        f"Redis: {without_password(shared.redis_url)}",
        f"  shared rate limits under {shared.rate_limit_key_prefix}*",
        f"RabbitMQ: {without_password(shared.amqp_url)} (domain events)",
        f"Identity provider: {url(ports.idp)}/.well-known/jwks.json (pid {pids['idp']})",
        f"  issuer {ISSUER}, audience {AUDIENCE}",
        f"Sandboxes ({running.latency_ms} ms per call; admin at /_sandbox/ with their token):",
        f"  invoicing {url(ports.invoicing)} token {INVOICING_TOKEN} (pid {invoicing})",
        f"  payments  {url(ports.payments)} token {PAYMENTS_TOKEN} (pid {payments})",
        f"Logs: {running.run_dir}/*.log",
        "",
        "Demo tokens (this run's signing key):",
    ]
    for label, token in running.tokens.items():
        lines += [f"# {label}", f"Authorization: Bearer {token}"]
    lines += [
        "",
        "Try, with TOKEN set to one of them (each answer's X-Request-Id is in haproxy.log):",
        f"  curl -s {lb}/graphql -H 'Content-Type: application/json' \\",
        '    -H "Authorization: Bearer $TOKEN" -d \'{"query":"{ viewer { id } }"}\'',
        "",
        "Ctrl-C (or SIGTERM) stops every process listed here; nothing else.",
        "=" * 78,
    ]
    print("\n".join(lines), flush=True)
