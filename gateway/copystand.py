"""A copy stand's capture sessions: a dossier tag opens one, each shot becomes a corrected page at once.

The keeper lays the dossier's tag on the stand's reader: a session opens for that dossier (continuing
its page numbers if it was digitized in part before). Each shot, on the pedal, on the station's button,
by the auto trigger or as a tethered camera delivers it, is corrected and checked at once, written to
the dossier's folder, and handed on for upload. The keeper sees the verdict on the station page as soon as
the checks are done, while the page's files are still being written (on a Pi's SD card that takes longer
than the correction); the page counts once its files and its manifest entry are on the card. A page whose
files cannot be written (a full or failing card) is not kept: the station says so and the next shot is
that page again. A shot that fails a check stays as its page but is marked for a retake: the next shot
replaces it unless the keeper keeps it. A shot with no page, or of the page just taken, is not a page.
The session ends on the done button, the same tag laid again, or `idle_end_s` without a shot; then the
dossier's manifest is handed on. The gateway makes no PDF: the dashboard makes it from the access copies of
all the dossier's pages, whichever sessions they came from, and the gateway removes its own copies once
the dashboard has had them a while (gateway/uploads.py). The manifest stays, so a continued session numbers
on after the last page even when that page's files are gone.

Inputs arrive from other threads (the reader service, gpiozero's pin callbacks, the station's web
server) and are handled one at a time on the stand's own thread, so a session never sees two at once.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from gateway.alarms import Alarms
from hardware.background import Background
from hardware.clock import Clock
from hardware.config import CopyStand
from vision import outputs
from vision.autotrigger import AutoTrigger
from vision.camera import Camera, CameraError
from vision.pipeline import Correction, Hints, correct, upright

log = logging.getLogger(__name__)

POLL_S = 0.25
"""How often the auto trigger looks at a preview, and a tethered camera's folder is checked."""
RECENT = 8
"""Pages the station lists under the last one."""
NOT_A_PAGE = ("no_page", "duplicate")
"""Checks whose failure means the shot is not a page at all: nothing is written."""

OnPage = Callable[[Path, str, dict], None]
OnEnd = Callable[[Path, str], None]
"""Called with the root and the dossier code when a session of a dossier with pages ends."""
RoomForPages = Callable[[], str | None]
"""None while pages may be written, else why not (gateway/disk.py)."""
Event = Callable[..., None]


@dataclass(frozen=True)
class Shot:
    """One page as the station shows it."""

    page: int
    ok: bool
    failed: dict[str, dict] = field(default_factory=dict)  # check name -> {value, limit, reason}
    access: str = ""  # the access copy's path, for the station to show; empty until the page's files are written
    turned_deg: int = 0  # how far the page, laid upside down or sideways, was turned upright (clockwise)


@dataclass(frozen=True)
class StationView:
    """What the station page shows; `version` rises with every change, so the page knows when to redraw."""

    stand: str
    version: int = 0
    dossier: str | None = None
    pages: int = 0
    last: Shot | None = None
    recent: tuple[Shot, ...] = ()
    retake: int | None = None
    """The page the next shot replaces (a failed one), if any."""
    saving: int | None = None
    """The page whose files are being written now. Its verdict is `last` already; it is not in `pages` or
    `recent` until its files and manifest entry are on the card, and has no image to show before that."""
    notice: str = ""
    """Why the last shot was not a page, or what went wrong: a key the station translates."""
    notice_detail: str = ""
    notice_page: int | None = None
    """The page the notice is about, where it is about one (`not_kept`: the page that was not kept)."""
    waiting_for: str = ""
    camera: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


class CopyStandSession(Background):
    """One stand: its camera, its inputs and its current session. `handle` and `tick` are the whole of it."""

    thread_name = "copy-stand"

    def __init__(
        self,
        stand: CopyStand,
        camera: Camera,
        root: Path,
        clock: Clock,
        *,
        event: Event,
        on_page: OnPage | None = None,
        on_end: OnEnd | None = None,
        room_for_pages: RoomForPages | None = None,
    ) -> None:
        super().__init__()
        self.stand = stand
        self.camera = camera
        self.root = root
        self.clock = clock
        self.event = event
        self._alarms = Alarms(event, clock.monotonic)
        """`page_not_kept`, raised when a page's files cannot be written, cleared by the next page kept."""
        self.on_page = on_page
        self.on_end = on_end
        self.room_for_pages = room_for_pages
        self.inputs: queue.Queue[tuple[str, object]] = queue.Queue()
        self.auto = AutoTrigger(stand.still_s) if stand.trigger == "auto" else None
        self._lock = threading.Lock()
        self._view = StationView(stand.id)
        self._changed = threading.Condition(self._lock)
        self._last_shot_at = 0.0
        self._previous_hash: dict[int, np.ndarray] = {}
        self.counts = {"pages": 0, "retakes": 0, "not_pages": 0, "not_kept": 0, "camera_errors": 0, "disk_full": 0}

    # -- what other threads call -------------------------------------------------------------

    def submit(self, kind: str, value: object = None) -> None:
        """Queue an input: `tag` (a dossier code), `bad_tag` (why not), `shoot`, `done`, `retake` (a page), `keep`."""
        self.inputs.put((kind, value))

    @property
    def view(self) -> StationView:
        with self._lock:
            return self._view

    def wait_for_change(self, version: int, timeout_s: float) -> StationView:
        """The view once its version differs from `version` (or after `timeout_s`): for long polling."""
        with self._changed:
            self._changed.wait_for(lambda: self._view.version != version, timeout_s)
            return self._view

    # -- the stand's own thread ----------------------------------------------------------------

    def start(self) -> None:
        try:
            self.camera.open()
        except CameraError as exc:  # the gateway goes on; the station says what is wrong with the camera
            log.error("copy stand %s: %s", self.stand.id, exc)
            self.counts["camera_errors"] += 1
            self._update(notice="camera", notice_detail=str(exc))
        super().start()

    def stop(self) -> None:
        super().stop()
        if self.view.dossier:
            self._end("gateway stopping")
        self.camera.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                kind, value = self.inputs.get(timeout=POLL_S)
            except queue.Empty:
                self.tick()
            else:
                self.handle(kind, value)

    def handle(self, kind: str, value: object = None) -> None:
        """One input; never raises (a bad input is a notice on the station and a log line)."""
        try:
            if kind == "tag":
                self._tag(str(value))
            elif kind == "shoot":
                if self.view.dossier:
                    self._shoot()
                else:
                    self._update(notice="no_session")
            elif kind == "done":
                if self.view.dossier:
                    self._end("done button")
            elif kind == "retake":
                self._mark_retake(value)
            elif kind == "keep":
                self._update(retake=None, notice="")
            elif kind == "bad_tag":
                self._update(notice="bad_tag", notice_detail=str(value)[:200])
            else:
                raise ValueError(f"unknown input {kind!r}")
        except Exception as exc:  # the stand must keep taking pages whatever one input did
            log.exception("copy stand %s: %s %r failed", self.stand.id, kind, value)
            self._update(notice="error", notice_detail=str(exc)[:200])

    def tick(self) -> None:
        """What happens with no input: the auto trigger, a tethered camera's new photo, the idle timeout."""
        view = self.view
        if not view.dossier:
            if self.camera.shoots_itself:
                self.camera.still(0)  # files outside a session are filed as unassigned
            return
        if self.clock.time() - self._last_shot_at >= self.stand.idle_end_s:
            self._end("idle timeout")
            return
        try:
            if self.auto is not None:
                verdict = self.auto.feed(self.camera.preview(), self.clock.monotonic())
                if verdict.waiting_for != view.waiting_for:
                    self._update(waiting_for=verdict.waiting_for)
                if verdict.shoot:
                    self._shoot()
            elif self.camera.shoots_itself:
                if self._disk_full():  # its photos wait in the camera's folder until there is room
                    return
                image = self.camera.still(0)
                if image is not None:
                    corrected = self._correct(image)
                    del image  # the photo is not needed to write the page's files (36 MB at 12 MP)
                    self._keep(*corrected)
                refused = getattr(self.camera, "refused", None)
                if refused:
                    self._update(notice="photo_refused", notice_detail=refused.pop(0))
        except CameraError as exc:
            self.counts["camera_errors"] += 1
            self._update(notice="camera", notice_detail=str(exc))

    # -- sessions ------------------------------------------------------------------------------

    def _tag(self, code: str) -> None:
        outputs.check_dossier(code)
        current = self.view.dossier
        if current == code:
            self._end("tag laid again")
            return
        if current:
            self._end(f"tag of {code} laid")
        manifest = outputs.load_manifest(self.root / code, code)
        done = sorted(p["page"] for p in manifest["pages"])
        locked = self.camera.lock()
        if self.auto is not None:
            self.auto = AutoTrigger(self.stand.still_s)
        if hasattr(self.camera, "dossier"):
            self.camera.dossier = code
        self._previous_hash.clear()
        self._last_shot_at = self.clock.time()
        self._update(
            dossier=code,
            pages=len(done),
            last=None,
            recent=(),
            retake=None,
            notice="",
            camera={k: str(v) for k, v in locked.items()},
        )
        self._disk_full()
        self.event(
            "stand_session",
            device=self.stand.id,
            message=f"copy stand {self.stand.id}: session for {code} opened"
            + (f", continuing after page {done[-1]}" if done else ""),
            data={"stand": self.stand.id, "dossier": code, "state": "open", "pages": len(done)},
        )

    def _end(self, why: str) -> None:
        view = self.view
        code = view.dossier
        if code is None:
            return
        self.camera.unlock()
        if hasattr(self.camera, "dossier"):
            self.camera.dossier = None
        if self.on_end is not None and view.pages:
            self._hand_on(self.on_end, self.root, code)
        self._update(dossier=None, retake=None, notice="session_ended", notice_detail=code, waiting_for="")
        self.event(
            "stand_session",
            device=self.stand.id,
            message=f"copy stand {self.stand.id}: session for {code} closed ({why}), {view.pages} page(s)",
            data={"stand": self.stand.id, "dossier": code, "state": "closed", "pages": view.pages, "why": why},
        )

    def _mark_retake(self, value: object) -> None:
        view = self.view
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= view.pages:
            raise ValueError(f"page {value!r} cannot be retaken: the dossier has pages 1 to {view.pages}")
        if self.auto is not None:
            self.auto.rearm()
        self._update(retake=value, notice="")

    # -- shots ---------------------------------------------------------------------------------

    def _disk_full(self) -> bool:
        """True (and the station says why) when the gateway has no room for another page."""
        why = self.room_for_pages() if self.room_for_pages is not None else None
        if why is None:
            if self.view.notice == "disk_full":
                self._update(notice="", notice_detail="")
            return False
        if self.view.notice != "disk_full":
            log.error("copy stand %s: no page taken, %s", self.stand.id, why)
            self._update(notice="disk_full", notice_detail=why, waiting_for="")
        self.counts["disk_full"] += 1
        return True

    def _shoot(self) -> None:
        if self._disk_full():  # a page that cannot be kept is not shot: the keeper leaves it on the stand
            return
        try:
            image = self.camera.still(10.0)
        except CameraError as exc:
            self.counts["camera_errors"] += 1
            self._update(notice="camera", notice_detail=str(exc))
            return
        if image is None:
            self._update(notice="camera", notice_detail="no photo")
            return
        corrected = self._correct(image)
        del image  # the photo is not needed to write the page's files (36 MB at 12 MP)
        self._keep(*corrected)

    def _correct(self, image: np.ndarray) -> tuple[Correction, int, float]:
        """Correct and check one photo for the page the open session is at; (the result, that page, when it
        started).

        Split from `_keep` so that the caller can let go of the photo before the files are written: it holds
        the only reference, and a Pi Zero 2 W has 512 MB for everything.
        """
        view = self.view
        page = view.retake or view.pages + 1
        started = time.perf_counter()
        hints = Hints(
            page_size=self.stand.page_size_hint,
            px_per_mm=self.stand.px_per_mm,
            dpi=self.stand.dpi,
            bitonal=self.stand.bitonal,
            previous_hash=self._previous_hash.get(page - 1),
        )
        return correct(image, hints), page, started

    def _keep(self, result: Correction, page: int, started: float) -> None:
        """Keep the corrected photo as page `page` of the open session: the verdict on the station, then its
        files and the manifest, then the page in the count. Runs on the stand's own thread right after
        `_correct`, so the session is the one the photo was corrected for; the next input (a shot, a retake,
        the done button) waits for the files, so it sees the page counted or known not to be kept.
        """
        view = self.view
        code = view.dossier
        assert code is not None
        self._last_shot_at = self.clock.time()
        failed = {name: c for name, c in result.qc["checks"].items() if not c["ok"]}
        if result.master is None or any(name in failed for name in NOT_A_PAGE):
            self.counts["not_pages"] += 1
            name = next(n for n in (*NOT_A_PAGE, *failed) if n in failed)
            self._update(notice=name, notice_detail=failed[name]["reason"], waiting_for="")
            return
        meta = outputs.PageMeta(
            dossier=code,
            page=page,
            captured=datetime.fromtimestamp(self.clock.time(), UTC).isoformat(timespec="seconds"),
            device=self.camera.device,
            dpi=result.dpi,
        )
        ms = round((time.perf_counter() - started) * 1000, 1)
        # The verdict first, the moment the checks are done: turning a page laid upside down or sideways (a
        # Tesseract detection, a few hundred ms) and writing the files (about 11 MB at 12 MP; an SD card writes
        # some 10-40 MB/s) take longer than correcting, and the keeper turns the page or lays it again on the
        # verdict alone. The page is not counted, listed or shown until its files are written.
        shot = Shot(page, not failed, failed)
        self._update(last=shot, saving=page, notice="", notice_detail="", waiting_for="")
        if self.stand.upright:
            try:
                result = upright(result)
            except Exception:  # whatever goes wrong in turning it, the page is kept as laid, never lost
                self.counts["upright_errors"] = self.counts.get("upright_errors", 0) + 1
                log.exception(
                    "copy stand %s: page %d of %s kept as laid, not turned upright", self.stand.id, page, code
                )
        extra = {**result.described(), "ms": ms}
        try:
            files = outputs.save_page(
                self.root, meta, result.master, result.qc, extra, result.bitonal, self.stand.master_format
            )
        except Exception as exc:  # a full or failing card, whatever the writer says: this page only is lost
            self._not_kept(page, exc)
            return
        self._previous_hash[page] = result.page_hash
        self.counts["retakes" if view.retake else "pages"] += 1
        self._alarms.set(
            "page_not_kept",
            False,
            device=self.stand.id,
            cleared_message=f"copy stand {self.stand.id}: pages are kept again (page {page} of {code})",
            data={"stand": self.stand.id, "dossier": code, "page": page},
        )
        shot = replace(shot, access=files["access"], turned_deg=result.turned_deg)
        recent = (shot, *(s for s in view.recent if s.page != page))[:RECENT]
        self._update(
            pages=max(view.pages, page),
            last=shot,
            recent=recent,
            retake=page if failed else None,
            saving=None,
        )
        # Queueing waits for the page's files to reach the card, which the keeper need not wait for either; the
        # next shot does (same thread).
        entry = next(p for p in outputs.load_manifest(self.root / code, code)["pages"] if p["page"] == page)
        if self.on_page is not None:
            self._hand_on(self.on_page, self.root, code, entry)

    def _not_kept(self, page: int, exc: Exception) -> None:
        """The files of `page` could not be written: the keeper is told to shoot it again; the session goes on.

        The page is not counted, the numbering does not move on (the next shot is this page again, or replaces
        it again when it was a retake), and `duplicate` is not checked against it. The verdict shown for it goes,
        so nothing on the station says the page is there. The writer has removed its half-written files and
        renamed none into place (vision/outputs.py): a retaken page keeps its earlier files and manifest entry.
        """
        self.counts["not_kept"] += 1
        log.error(
            "copy stand %s: page %d of %s NOT kept, its files could not be written: %s",
            self.stand.id,
            page,
            self.view.dossier,
            exc,
            exc_info=not isinstance(exc, OSError),  # a card's trouble says itself; anything else is a bug to trace
        )
        self._update(last=None, saving=None, notice="not_kept", notice_detail=str(exc)[:200], notice_page=page)
        # The keeper sees it on the station; whoever looks after the gateway sees it on the dashboard, once for
        # a run of such pages: a card that fails one page's files usually fails the next.
        dossier = self.view.dossier
        self._alarms.set(
            "page_not_kept",
            True,
            device=self.stand.id,
            severity="warning",
            message=f"copy stand {self.stand.id}: page {page} of {dossier} NOT kept, its files could not be written "
            f"({exc})"[:500],
            data={"stand": self.stand.id, "dossier": dossier, "page": page, "error": str(exc)[:200]},
        )

    def _hand_on(self, to: Callable[..., None], *args: object) -> None:
        """Give the uploader a page or a dossier; its failure is logged and counted, never the session's.

        The page's files are written and listed in the dossier's manifest already, so the keeper goes on;
        what was not queued stays in the dossier's folder (and the log names it) until it is sent again.
        """
        try:
            to(*args)
        except Exception:
            self.counts["hand_on_errors"] = self.counts.get("hand_on_errors", 0) + 1
            log.exception("copy stand %s: could not queue %s for upload", self.stand.id, args[1:])

    def _update(self, **changes: object) -> None:
        if "notice" in changes:  # a new notice (or none) is about the page it names, or about none
            changes.setdefault("notice_page", None)
        with self._changed:
            self._view = replace(self._view, version=self._view.version + 1, **changes)
            self._changed.notify_all()
