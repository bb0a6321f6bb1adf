"""The typed per-request context every resolver receives.

Built lazily: the principal and the request's record are there from the start; the read
service is built on the first read and the mutation service on the first mutation, so a
query never builds write-side objects (sagas, write clients) it will not use.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.requests import Request
from starlette.responses import Response

from app.auth.principal import Principal
from app.mutations.service import MutationService
from app.reads.service import ReadService
from app.telemetry.requests import RequestRecord


class Context:
    __slots__ = (
        "_make_mutations",
        "_make_reads",
        "_mutations",
        "_reads",
        "principal",
        "record",
        "request",
        "request_id",
        "response",
    )

    def __init__(
        self,
        *,
        request: Request,
        response: Response,
        principal: Principal,
        request_id: str,
        record: RequestRecord,
        make_reads: Callable[[], ReadService],
        make_mutations: Callable[[ReadService], MutationService],
    ) -> None:
        self.request = request
        self.response = response
        self.principal = principal
        self.request_id = request_id
        self.record = record
        self._make_reads = make_reads
        self._make_mutations = make_mutations
        self._reads: ReadService | None = None
        self._mutations: MutationService | None = None

    @property
    def reads(self) -> ReadService:
        if self._reads is None:
            self._reads = self._make_reads()
        return self._reads

    @property
    def mutations(self) -> MutationService:
        # Mutations read through the same read service (one set of loaders per request).
        if self._mutations is None:
            self._mutations = self._make_mutations(self.reads)
        return self._mutations
