"""Who may open which door when: the gateway's access rules, decided on the gateway, broker or not.

Pure: no pins, no threads, no clock of its own. `AccessRules.decide` takes the badge, the door and the
time, and gives a `Decision` with a reason from `protocol.ACCESS_REASONS`, the one thing people ask about
("why was I refused"). It keeps the little state the rules need: badges waiting for a second person, and
who is inside a room with anti-passback.

Order of the checks at an outside reader, the first that fails gives the reason: a permission document
at all (`no_permissions`), the badge known (`unknown_badge`), not lost (`lost_badge`), its holder enabled
(`user_disabled`), a grant for this room (`no_permission`), valid today (`not_yet_valid`, `expired`),
within its hours (`outside_hours`), not inside already (`anti_passback`); then the company the room needs:
two different staff within the window in a two-person room (`waiting_second_person`), and a staff badge
beside every visitor (`visitor_needs_staff`). At an inside reader a known badge that is not lost may leave
(`exit`), unless anti-passback says it never came in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo

from gateway.protocol import Holder, PermissionDocument, RoomGrant, RoomRule

Side = str
"""`outside` (entering) or `inside` (leaving)."""


@dataclass(frozen=True)
class Decision:
    granted: bool
    reason: str
    room: str
    door: str
    side: Side
    badge: str | None = None
    holder: str | None = None
    holder_kind: str | None = None
    together_with: tuple[str, ...] = ()
    """The other holders admitted with this grant (two-person rule, visitors): the entry register's 'with whom'."""
    detail: str = ""

    @property
    def message(self) -> str:
        who = self.holder or self.badge or "?"
        verdict = "granted" if self.granted else "refused"
        extra = f" with {', '.join(self.together_with)}" if self.together_with else ""
        why = f" ({self.detail})" if self.detail else ""
        return f"{self.door} {self.side}: {who} {verdict}: {self.reason}{extra}{why}"

    def as_data(self) -> dict[str, str | bool | None]:
        """The `data` of an `access` event (scalars only)."""
        return {
            "granted": self.granted,
            "reason": self.reason,
            "side": self.side,
            "badge": self.badge,
            "holder": self.holder,
            "holder_kind": self.holder_kind,
            "with": ",".join(self.together_with) or None,
            "detail": self.detail[:200] or None,
        }


@dataclass
class _Waiting:
    holder: Holder
    badge: str
    at: float


@dataclass
class AccessRules:
    """The rules of one gateway's doors, on the permission document it runs."""

    timezone: tzinfo
    document: PermissionDocument | None = None
    _waiting: dict[tuple[str, str], list[_Waiting]] = field(default_factory=dict)
    _inside: dict[str, set[str]] = field(default_factory=dict)

    def use(self, document: PermissionDocument) -> None:
        """Run a new document from now on: lost badges and disabled holders are refused at once."""
        self.document = document
        known = {h.id for h in document.holders}
        for key, waiting in self._waiting.items():
            self._waiting[key] = [w for w in waiting if w.holder.id in known]

    @property
    def version(self) -> int | None:
        return self.document.version if self.document else None

    def rule(self, room: str) -> RoomRule:
        return (self.document.rooms.get(room) if self.document else None) or RoomRule()

    def inside(self, room: str) -> set[str]:
        """Holders who entered `room` by badge and have not left by badge (kept for anti-passback rooms)."""
        return set(self._inside.get(room, ()))

    def refuse(self, room: str, door: str, side: Side, reason: str, detail: str, badge: str | None = None) -> Decision:
        """A refusal decided before the rules (an unreadable frame, a forged tag, a tag that is no badge)."""
        return Decision(False, reason, room, door, side, badge=badge, detail=detail)

    def decide(self, room: str, door: str, side: Side, badge: str, now: float) -> Decision:
        """Whether `badge` presented at the `side` reader of `door` at epoch time `now` opens it, and why."""

        def no(reason: str, holder: Holder | None = None, detail: str = "") -> Decision:
            return Decision(
                False,
                reason,
                room,
                door,
                side,
                badge=badge,
                holder=holder.id if holder else None,
                holder_kind=holder.kind if holder else None,
                detail=detail,
            )

        if self.document is None:
            return no("no_permissions", detail="this gateway has no permission document yet")
        found = self.document.holder_of(badge)
        if found is None:
            return no("unknown_badge")
        holder, entry = found
        if entry.lost:
            return no("lost_badge", holder)
        if holder.disabled:
            return no("user_disabled", holder)
        rule = self.rule(room)
        if side == "inside":
            return self._leave(room, door, badge, holder, rule, no)
        grants = [g for g in holder.grants if g.room == room]
        if not grants:
            return no("no_permission", holder)
        local = datetime.fromtimestamp(now, self.timezone)
        today = local.date()
        current = [g for g in grants if _valid_on(g, today)]
        if not current:
            starts = [g.valid_from for g in grants if g.valid_from and g.valid_from > today]
            if starts:
                return no("not_yet_valid", holder, f"valid from {min(starts).isoformat()}")
            return no("expired", holder, f"expired {max(g.valid_until for g in grants if g.valid_until)}")
        if not any(_in_hours(g, local) for g in current):
            return no("outside_hours", holder, _hours(current))
        if rule.anti_passback and holder.id in self._inside.get(room, set()):
            return no("anti_passback", holder, "already inside: leave by the inside reader first")
        return self._company(room, door, badge, holder, rule, now, no)

    def _leave(self, room, door, badge, holder, rule, no) -> Decision:
        inside = self._inside.setdefault(room, set())
        if rule.anti_passback and holder.id not in inside:
            return no("anti_passback", holder, "never badged in")
        inside.discard(holder.id)
        return Decision(True, "exit", room, door, "inside", badge=badge, holder=holder.id, holder_kind=holder.kind)

    def _company(self, room, door, badge, holder, rule, now, no) -> Decision:
        """Grant once the badges waiting at this door make a party the room admits."""
        waiting = [w for w in self._waiting.get((room, door), []) if now - w.at <= rule.window_s]
        waiting = [w for w in waiting if w.holder.id != holder.id] + [_Waiting(holder, badge, now)]
        staff = [w for w in waiting if w.holder.kind == "staff"]
        needed = 2 if rule.two_person else 1
        if len(staff) < needed:
            self._waiting[room, door] = waiting
            if rule.two_person and holder.kind == "staff":
                return no("waiting_second_person", holder, f"another authorised badge within {rule.window_s:g} s")
            return no("visitor_needs_staff", holder, f"an authorised staff badge within {rule.window_s:g} s")
        self._waiting.pop((room, door), None)
        if rule.anti_passback:
            self._inside.setdefault(room, set()).update(w.holder.id for w in waiting)
        others = tuple(w.holder.id for w in waiting if w.holder.id != holder.id)
        return Decision(
            True, "granted", room, door, "outside", badge=badge, holder=holder.id, holder_kind=holder.kind,
            together_with=others,
        )  # fmt: skip


def _valid_on(grant: RoomGrant, day: object) -> bool:
    return (grant.valid_from is None or grant.valid_from <= day) and (
        grant.valid_until is None or day <= grant.valid_until
    )


def _in_hours(grant: RoomGrant, local: datetime) -> bool:
    if not grant.windows:
        return True
    clock = local.strftime("%H:%M")
    return any(local.weekday() in w.days and w.start <= clock < w.end for w in grant.windows)


def _hours(grants: list[RoomGrant]) -> str:
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    spans = [f"{'/'.join(days[d] for d in w.days)} {w.start}-{w.end}" for g in grants for w in g.windows]
    return "open " + "; ".join(spans)
