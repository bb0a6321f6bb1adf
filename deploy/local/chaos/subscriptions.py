"""The chaos run's subscribers: dashboards following their business's invoices live.

Each subscriber holds `invoiceUpdated(businessId)` open over graphql-transport-ws through
the balancer (which spreads them over the gateways), as the web app does, and does what
the API tells a client to when its stream ends (a killed gateway, a restart): connect
again, to whichever gateway the balancer picks. Events that happen while it is away are
not replayed to it (a client re-reads; docs/partners.md), so what the run reports is how
many distinct events the subscribers saw and how often they had to reconnect, not an
invariant.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from dataclasses import dataclass, field

import websockets

SUBSCRIPTION = """subscription Invoices($id: ID!) {
  invoiceUpdated(businessId: $id) { eventId change sequence } }"""
PROTOCOL = "graphql-transport-ws"


@dataclass
class Followed:
    event_ids: set[str] = field(default_factory=set)
    connections: int = 0
    ended: list[str] = field(default_factory=list)  # why each stream ended, for the report


async def follow(
    ws_url: str, token: str, business_id: str, seen: Followed, stop: asyncio.Event
) -> None:
    while not stop.is_set():
        try:
            await _one_stream(ws_url, token, business_id, seen, stop)
        except (OSError, TimeoutError, websockets.WebSocketException, ValueError) as exc:
            seen.ended.append(type(exc).__name__)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)


async def _one_stream(
    ws_url: str, token: str, business_id: str, seen: Followed, stop: asyncio.Event
) -> None:
    async with websockets.connect(
        ws_url, subprotocols=[websockets.Subprotocol(PROTOCOL)], open_timeout=5
    ) as socket:
        init = {"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}
        await socket.send(json.dumps(init))
        ack = json.loads(await asyncio.wait_for(socket.recv(), 5))
        if ack.get("type") != "connection_ack":
            raise ValueError(f"no connection_ack: {ack}")
        seen.connections += 1
        variables = {"id": business_id}
        subscribe = {
            "id": "1",
            "type": "subscribe",
            "payload": {"query": SUBSCRIPTION, "variables": variables},
        }
        await socket.send(json.dumps(subscribe))
        while not stop.is_set():
            try:
                message = json.loads(await asyncio.wait_for(socket.recv(), 1.0))
            except TimeoutError:
                continue
            kind = message.get("type")
            if kind == "ping":
                await socket.send(json.dumps({"type": "pong"}))
            elif kind == "next":
                update = ((message.get("payload") or {}).get("data") or {}).get("invoiceUpdated")
                if update:
                    seen.event_ids.add(update["eventId"])
            elif kind in ("error", "complete"):
                seen.ended.append(f"{kind}: {message.get('payload')}")
                return
