"""What `storeroom sim run` adds for door access: the demo's permissions on every gateway, a broker that can
be out of reach, and the report's `events` list.

The broker is modelled, not run: each event goes into the gateway's real SQLite outbox as the message it
would send, and is taken out (delivered) whenever the modelled broker is reachable, so an event made during
an outage says when it was sent afterwards (`sent_s`) and that it was sent from the backlog (`historical`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from gateway import protocol
from gateway.outbox import Outbox
from hardware.access_key import access_key
from hardware.config import SiteConfig
from hardware.door_world import DEMO_BADGES
from storeroom.access_demo import demo_document

HOUR = 3600.0
BADGES = {b.holder: b for b in DEMO_BADGES}
DOOR_ALARMS = ("door_forced", "door_held_open", "door_tamper", "strike_fault", "emergency_release")


def grant_demo_permissions(site: SiteConfig, controllers: dict[str, Any]) -> None:
    """Sign the demo's permission document with a key made for the run and give it to every gateway's doors."""
    document = demo_document(site, by="scenario").signed(access_key(site, create=True))
    for controller in controllers.values():
        if controller.doors:
            controller.doors.apply(document)


class ModelledBroker:
    """Delivers each gateway's outbox while up; keeps it while down (`down`: hours from the start)."""

    def __init__(self, site: SiteConfig, down: tuple[float, float] | None, start: float, recorders: dict) -> None:
        self.down = down
        self.start = start
        self.outboxes: dict[str, Outbox] = {}
        self.sent: dict[tuple[str, int], dict[str, Any]] = {}
        if down is None:
            return
        for gateway_id, recorder in recorders.items():
            outbox = self.outboxes[gateway_id] = Outbox(site.outbox_path(gateway_id), synchronous="OFF")
            topics = protocol.Topics(site.site.id, gateway_id)
            recorder.queue = lambda event, o=outbox, t=topics, g=gateway_id: self._put(g, o, t, event)

    def _put(self, gateway_id: str, outbox: Outbox, topics: protocol.Topics, event: dict[str, Any]) -> None:
        fields = {k: v for k, v in event.items() if k not in ("t_s", "kind")}
        when = datetime.fromtimestamp(self.start + event["t_s"], UTC)

        def build(seq: int) -> bytes:
            return protocol.Event(id=protocol.new_id(), seq=seq, ts=when, kind=event["kind"], **fields).to_json()

        seq = outbox.put(topics.event(event["kind"]), build)
        self.sent[gateway_id, seq] = event

    def up(self, now: float) -> bool:
        if self.down is None:
            return True
        hours = (now - self.start) / HOUR
        return not self.down[0] <= hours < self.down[1]

    def next_change(self, now: float) -> float:
        if self.down is None:
            return float("inf")
        changes = [self.start + h * HOUR for h in self.down]
        return min((t for t in changes if t > now), default=float("inf"))

    def deliver(self, now: float) -> None:
        if not self.outboxes or not self.up(now):
            return
        for gateway_id, outbox in self.outboxes.items():
            pending = outbox.after(0, 100_000)
            for message in pending:
                event = self.sent.pop((gateway_id, message.seq), None)
                if event is not None:
                    event["sent_s"] = round(now - self.start, 1)
                    event["historical"] = event["sent_s"] > event["t_s"]
            outbox.delivered(m.seq for m in pending)

    def close(self) -> None:
        for outbox in self.outboxes.values():
            outbox.close()


def door_events(events: list[dict[str, Any]], doors: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The report's `events`: what happened at the badge doors, one flat object each, with a `reason`."""
    out = []
    for e in events:
        if (e.get("room"), e.get("device")) not in doors and e["kind"] != "permissions":
            continue
        data = e.get("data", {})
        if e["kind"] == "access":
            reason = data["reason"]
        elif e["kind"] == "door":
            reason = "opened" if data.get("open") else "closed"
        elif e["kind"] == "permissions":
            reason = "applied" if data.get("applied") else "refused"
        elif e["kind"] in DOOR_ALARMS:
            reason = "cleared" if data.get("cleared") else "raised"
        else:
            continue
        item = {"t_s": e["t_s"], "kind": e["kind"], "room": e.get("room"), "door": e.get("device"), "reason": reason}
        item["severity"] = e.get("severity", "info")
        item["message"] = e.get("message", "")
        if e["kind"] == "access":
            item |= {k: data.get(k) for k in ("granted", "side", "holder", "with", "badge") if data.get(k) is not None}
        for key in ("sent_s", "historical"):
            if key in e:
                item[key] = e[key]
        out.append(item)
    return out
