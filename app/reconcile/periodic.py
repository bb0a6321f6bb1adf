"""Reconciliation as a background task of the app (RECONCILE_INTERVAL_SECONDS > 0): every
interval, the businesses in the payment_watch table are reconciled, without repair (the
settler does that work continuously). Each finding is logged (logger gateway.reconcile,
warning, its fields in `extra`), and the count of each kind is reported, 0 included, so
that a drift that cleared is seen to clear.

A business that could not be read keeps the counts of its last complete reading: a
payments service that is down must not look like books that agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Mapping

from app.reconcile.drift import KINDS, Kind, counts
from app.reconcile.runner import Reconciler, Reconciliation
from app.settlement.store import WatchStore

logger = logging.getLogger("gateway.reconcile")


class DriftReport:
    """Where the counts go (the app's metrics)."""

    def counted(self, tally: Mapping[Kind, int]) -> None:
        """The drift of the last pass, by kind, every kind present."""


class PeriodicReconciler:
    def __init__(
        self,
        reconciler: Reconciler,
        store: WatchStore,
        *,
        interval_seconds: float,
        report: DriftReport | None = None,
    ) -> None:
        self._reconciler = reconciler
        self._store = store
        self._interval = interval_seconds
        self._report = report or DriftReport()
        self._last: dict[str, Counter[Kind]] = {}

    async def run_once(self) -> Reconciliation:
        result = await self._reconciler.run(await self._store.businesses())
        for finding in result.findings:
            logger.warning(
                "reconciliation found drift",
                extra={
                    "event": "reconcile_drift",
                    "kind": finding.kind,
                    "business_id": finding.business_id,
                    "invoice_id": finding.invoice_id,
                    "payment_id": finding.payment_id,
                    "amount": finding.amount,
                    "currency": finding.currency,
                    "payment_status": finding.payment_status,
                    "owned": finding.owned,
                    "watch_state": finding.watch_state,
                    "note": finding.note,
                },
            )
        for business_id, reason in result.incomplete:
            logger.warning(
                "reconciliation did not read a business in full",
                extra={
                    "event": "reconcile_incomplete",
                    "business_id": business_id,
                    "reason": reason,
                },
            )
        for business in result.results:
            if not business.failed:
                self._last[business.business_id] = Counter(counts(business.findings))
        total: Counter[Kind] = Counter()
        for business_id in result.businesses:
            total.update(self._last.get(business_id, Counter()))
        self._report.counted({kind: total[kind] for kind in KINDS})
        return result

    async def run_forever(self, stop: asyncio.Event) -> None:
        # The first pass waits an interval too: a starting app has other work first.
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self._interval)
            if stop.is_set():
                return
            try:
                await self.run_once()
            except Exception:  # noqa: BLE001 - background boundary: a database blip must not stop reconciling for good
                logger.exception("reconciliation pass failed; trying again next interval")
