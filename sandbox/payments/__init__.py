"""The payments sandbox: payments, refunds and balances (payments.openapi.yaml)."""

from __future__ import annotations

from starlette.applications import Starlette

from sandbox.common.faults import FaultConfig
from sandbox.common.runtime import Service
from sandbox.common.store import connect
from sandbox.common.variants import Variant
from sandbox.payments import admin as payments_admin
from sandbox.payments import db
from sandbox.payments.handlers import PaymentsHandlers


def create_payments_app(
    *,
    token: str,
    db_path: str = ":memory:",
    faults: FaultConfig | None = None,
    seed: bool = True,
    admin: bool = True,
    variant: Variant | None = None,
) -> Starlette:
    """Build the app; with `seed` the database is recreated from the seed right away.

    Everything is ready when this returns, so the app works without a lifespan startup
    (httpx.ASGITransport runs none). `admin` serves the /_sandbox/ surface (faults,
    variant, calls, reset, settling payments); `variant` is the baseline variant.
    """
    conn = connect(db_path)
    db.create_schema(conn, fresh=seed)
    if seed:
        db.restore_seed(conn)
    service = Service(
        token=token,
        conn=conn,
        faults=faults,
        key_required=True,
        restore_seed=lambda: db.restore_seed(conn),
        admin=admin,
        variant=variant,
    )
    if seed:
        service.idempotency.clear()
    h = PaymentsHandlers(conn)
    app = service.app(
        [
            service.get("/v1/payments", h.list_payments),
            service.post("/v1/payments", h.create_payment),
            service.get("/v1/payments/{payment_id}", h.get_payment),
            service.post("/v1/payments/{payment_id}/refunds", h.create_refund),
            service.get("/v1/refunds", h.list_refunds),
            service.get("/v1/balances", h.list_balances),
        ],
        payments_admin.admin_routes(conn),
    )
    app.state.sandbox = service
    return app


__all__ = ["FaultConfig", "Variant", "create_payments_app"]
