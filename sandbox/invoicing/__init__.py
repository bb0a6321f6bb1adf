"""The invoicing sandbox: businesses, customers and invoices (invoicing.openapi.yaml)."""

from __future__ import annotations

from starlette.applications import Starlette

from sandbox.common.faults import FaultConfig
from sandbox.common.runtime import Service
from sandbox.common.store import connect
from sandbox.common.variants import Variant
from sandbox.invoicing import db
from sandbox.invoicing.handlers import InvoicingHandlers


def create_invoicing_app(
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
    variant, calls, reset); `variant` is the baseline variant.
    """
    conn = connect(db_path)
    db.create_schema(conn, fresh=seed)
    if seed:
        db.restore_seed(conn)
    service = Service(
        token=token,
        conn=conn,
        faults=faults,
        key_required=False,
        restore_seed=lambda: db.restore_seed(conn),
        admin=admin,
        variant=variant,
    )
    if seed:
        service.idempotency.clear()
    h = InvoicingHandlers(conn)
    app = service.app(
        [
            service.get("/v1/businesses", h.list_businesses),
            service.get("/v1/customers", h.list_customers),
            service.post("/v1/customers", h.create_customer),
            service.get("/v1/invoices", h.list_invoices),
            service.post("/v1/invoices", h.create_invoice),
            service.get("/v1/invoices/{invoice_id}", h.get_invoice),
            service.post("/v1/invoices/{invoice_id}/finalize", h.finalize_invoice),
            service.post("/v1/invoices/{invoice_id}/void", h.void_invoice),
            service.post("/v1/invoices/{invoice_id}/payments", h.record_payment),
        ]
    )
    app.state.sandbox = service
    return app


__all__ = ["FaultConfig", "Variant", "create_invoicing_app"]
