"""The gateway's alarms: each raised once when its condition starts and cleared once when it ends.

Conditions are judged on the gateway, with or without the broker; each change becomes one event (severity
warning or alarm when raised, `cleared: true` when it ends), which the dashboard turns into an alert with a
start and an end (dashboard/alerts.py). An alarm is identified by (kind, room, device), as the dashboard's
alert key is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Severity = Literal["warning", "alarm"]
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class Alarm:
    kind: str
    room: str | None
    device: str | None
    severity: Severity
    message: str
    since: float
    """Monotonic time it was raised."""


class Alarms:
    """The active alarms of one gateway. `emit(kind, **fields)` queues an event (GatewayService.event)."""

    def __init__(self, emit: Callable[..., None], clock: Callable[[], float]) -> None:
        self.emit = emit
        self.clock = clock
        self.active: dict[tuple[str, str | None, str | None], Alarm] = {}

    def set(
        self,
        kind: str,
        on: bool,
        *,
        room: str | None = None,
        device: str | None = None,
        severity: Severity = "alarm",
        message: str = "",
        cleared_message: str = "",
        data: dict[str, Scalar] | None = None,
    ) -> bool:
        """Raise or clear one alarm; an event only when that changes anything. True if it changed."""
        key = (kind, room, device)
        if on == (key in self.active):
            return False
        if on:
            self.active[key] = Alarm(kind, room, device, severity, message, self.clock())
            self.emit(kind, severity=severity, room=room, device=device, message=message, data=dict(data or {}))
        else:
            raised = self.active.pop(key)
            lasted = self.clock() - raised.since
            self.emit(
                kind,
                severity="info",
                room=room,
                device=device,
                message=cleared_message or f"cleared: {raised.message}",
                data={**(data or {}), "cleared": True, "lasted_s": round(lasted, 1)},
            )
        return True

    def is_active(self, kind: str, room: str | None = None, device: str | None = None) -> bool:
        return (kind, room, device) in self.active
