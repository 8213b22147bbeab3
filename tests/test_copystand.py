"""The copy stand's capture session: a dossier tag opens it, each shot is a checked page at once.

The simulated stand's camera renders what the simulated keeper lays on it; photos are 2400 x 1800 of
A6-sized pages (over 200 dpi, like a 12 MP photo of an A4 page, at a fraction of the rendering time).
"""

from __future__ import annotations

import json
import logging
import weakref
from pathlib import Path

import cv2
import numpy as np
import pytest

from gateway.copystand import CopyStandSession
from hardware.clock import ManualClock
from hardware.config import CopyStand
from hardware.files import sha256_of
from tests.support import full_card, wait_until
from vision import orientation
from vision.camera_folder import WHOLE_AFTER_S, FolderCamera
from vision.camera_sim import SimulatedCamera
from vision.standsim import StandScene

CODE = "DA-2026-00001"


class Stand:
    """A session on the simulated stand, with what it told the outbox and the uploader."""

    def __init__(self, root: Path, **config: object) -> None:
        self.scene = StandScene()
        self.clock = ManualClock()
        self.events: list[dict] = []
        self.pages: list[dict] = []
        self.ended: list[str] = []
        settings = {"id": "stand", "gateway": "gw", "reader": "r", "pedal_pin": 22, "page_size": "A6", **config}
        self.session = CopyStandSession(
            CopyStand(**settings),
            SimulatedCamera(self.scene, (2400, 1800)),
            root,
            self.clock,
            event=lambda kind, **fields: self.events.append({"kind": kind, **fields}),
            on_page=lambda root, code, entry: self.pages.append(entry),
            on_end=lambda root, code: self.ended.append(code),
        )

    def shoot(self, page_seed: int, faults: tuple[str, ...] = ()):
        self.scene.lay(page_seed, faults)
        self.session.handle("shoot")
        return self.session.view


@pytest.fixture
def stand(tmp_path) -> Stand:
    return Stand(tmp_path)


def manifest(root: Path, code: str = CODE) -> dict:
    return json.loads((root / code / "manifest.json").read_text(encoding="utf-8"))


def test_a_dossier_tag_opens_a_session_and_a_good_shot_becomes_page_one(stand, tmp_path):
    stand.session.handle("tag", CODE)
    view = stand.shoot(1)
    assert view.dossier == CODE and view.pages == 1
    assert view.last.page == 1 and view.last.ok and view.retake is None
    assert sorted(p.name for p in (tmp_path / CODE).iterdir()) == ["0001.jpg", "0001.tif", "manifest.json"]
    (entry,) = manifest(tmp_path)["pages"]
    assert entry["page"] == 1 and entry["qc"]["ok"] and entry["dpi"] == 300.0
    assert set(entry["files"]) == {"master", "access"} and all(len(f["sha256"]) == 64 for f in entry["files"].values())
    assert stand.pages == [entry]  # handed on for upload, as written
    assert stand.events[0]["data"] == {"stand": "stand", "dossier": CODE, "state": "open", "pages": 0}


def test_a_page_laid_upside_down_is_kept_upright_unless_the_stand_keeps_pages_as_laid(stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    view = stand.shoot(2, ("upside_down",))
    assert view.last.page == 2 and view.last.ok, "nothing to retake: the page is turned, not refused"
    first, second = manifest(tmp_path)["pages"]
    assert first["turned_deg"] == 0 and second["turned_deg"] == 180 and second["orientation"]["turn_deg"] == 180
    as_laid = Stand(tmp_path / "as-laid", upright=False)
    as_laid.session.handle("tag", CODE)
    as_laid.shoot(1)
    as_laid.shoot(2, ("upside_down",))
    kept = manifest(tmp_path / "as-laid")["pages"][1]
    assert kept["turned_deg"] == 0 and kept["orientation"] is None
    # The same page, once turned and once as laid: the one is the other upside down.
    turned, laid = (
        cv2.resize(cv2.imread(str(path)), (124, 175), interpolation=cv2.INTER_AREA).astype(int)
        for path in (tmp_path / CODE / "0002.jpg", tmp_path / "as-laid" / CODE / "0002.jpg")
    )
    assert np.abs(turned - laid[::-1, ::-1]).mean() < 4 < np.abs(turned - laid).mean()


def test_a_page_the_orientation_step_fails_on_is_kept_as_laid(stand, tmp_path, monkeypatch, caplog):
    def broken(gray, dpi):
        raise RuntimeError("tesseract fell over")

    monkeypatch.setattr(orientation, "detect", broken)
    stand.session.handle("tag", CODE)
    with caplog.at_level(logging.ERROR, "gateway.copystand"):
        view = stand.shoot(1, ("upside_down",))
    assert view.pages == 1 and view.last.ok and manifest(tmp_path)["pages"][0]["turned_deg"] == 0
    assert f"page 1 of {CODE} kept as laid, not turned upright" in caplog.text and "tesseract fell over" in caplog.text
    assert stand.session.counts["upright_errors"] == 1


def test_the_same_page_shot_twice_is_not_a_second_page(stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    view = stand.shoot(1)
    assert view.notice == "duplicate" and view.pages == 1
    assert len(manifest(tmp_path)["pages"]) == 1 and stand.session.counts["not_pages"] == 1


def test_a_shot_without_a_page_writes_nothing(stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.scene.clear()
    stand.session.handle("shoot")
    assert stand.session.view.notice == "no_page" and stand.session.view.pages == 0
    assert not (tmp_path / CODE).exists()


def test_a_failed_page_is_kept_and_replaced_by_the_next_shot(stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    view = stand.shoot(2, ("finger",))
    assert view.last.page == 2 and not view.last.ok and "hand" in view.last.failed
    assert view.retake == 2  # the next shot retakes it
    view = stand.shoot(2)
    assert view.last.page == 2 and view.last.ok and view.retake is None and view.pages == 2
    pages = manifest(tmp_path)["pages"]
    assert [p["page"] for p in pages] == [1, 2] and pages[1]["qc"]["ok"]
    assert [p["page"] for p in stand.pages] == [1, 2, 2] and stand.session.counts["retakes"] == 1


def test_the_keeper_can_keep_a_failed_page_and_go_on(stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.shoot(1, ("finger",))
    stand.session.handle("keep")
    view = stand.shoot(2)
    assert view.pages == 2
    assert [p["qc"]["ok"] for p in manifest(tmp_path)["pages"]] == [False, True]


def test_any_page_can_be_retaken_in_place(stand, tmp_path):
    stand.session.handle("tag", CODE)
    for seed in (1, 2, 3):
        stand.shoot(seed)
    stand.session.handle("retake", 2)
    assert stand.session.view.retake == 2
    view = stand.shoot(20)
    assert view.last.page == 2 and view.pages == 3 and view.retake is None


def test_a_retake_of_a_page_the_dossier_does_not_have_is_refused_and_the_stand_goes_on(stand):
    stand.session.handle("tag", CODE)
    stand.session.handle("retake", 5)
    assert stand.session.view.notice == "error" and "pages 1 to 0" in stand.session.view.notice_detail
    assert stand.shoot(1).pages == 1


def test_the_same_tag_again_ends_the_session_and_hands_the_dossier_on(stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    stand.shoot(2)
    stand.session.handle("tag", CODE)
    view = stand.session.view
    assert view.dossier is None and view.notice == "session_ended"
    assert [p["page"] for p in manifest(tmp_path)["pages"]] == [1, 2]
    assert not list((tmp_path / CODE).glob("*.pdf")), "the dashboard makes the PDF, not the gateway"
    assert stand.ended == [CODE]
    closed = stand.events[-1]["data"]
    assert closed == {"stand": "stand", "dossier": CODE, "state": "closed", "pages": 2, "why": "tag laid again"}


def test_another_dossier_tag_closes_the_first_session_and_opens_its_own(stand):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    stand.session.handle("tag", "DA-2026-00002")
    assert stand.session.view.dossier == "DA-2026-00002" and stand.session.view.pages == 0
    assert [e["data"]["state"] for e in stand.events] == ["open", "closed", "open"]


def test_the_done_button_and_the_idle_timeout_end_a_session(stand):
    stand.session.handle("tag", CODE)
    stand.session.handle("done")
    assert stand.session.view.dossier is None
    assert stand.ended == [], "a dossier with no page has nothing to hand on"
    stand.session.handle("tag", CODE)
    stand.clock.advance(599)
    stand.session.tick()
    assert stand.session.view.dossier == CODE
    stand.clock.advance(2)
    stand.session.tick()
    assert stand.session.view.dossier is None and stand.events[-1]["data"]["why"] == "idle timeout"


def test_a_dossier_digitized_in_part_continues_after_its_last_page(stand):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    stand.session.handle("done")
    stand.session.handle("tag", CODE)
    assert stand.session.view.pages == 1
    assert stand.shoot(2).last.page == 2


def test_without_a_session_a_shot_is_refused_and_bad_tags_are_named(stand):
    stand.session.handle("shoot")
    assert stand.session.view.notice == "no_session"
    stand.session.handle("bad_tag", "signature does not match")
    assert stand.session.view.notice == "bad_tag" and stand.session.view.notice_detail == "signature does not match"
    stand.session.handle("tag", "../../etc")
    assert stand.session.view.notice == "error" and stand.session.view.dossier is None


def test_a_session_locks_the_camera_for_its_pages(stand):
    stand.session.handle("tag", CODE)
    assert stand.session.view.camera == {"exposure": "locked", "white_balance": "locked", "focus": "locked"}
    stand.session.handle("done")
    assert stand.session.camera.locked == {}


def test_every_change_raises_the_version_the_station_waits_on(stand):
    before = stand.session.view.version
    stand.session.handle("tag", CODE)
    assert stand.session.wait_for_change(before, 1.0).version > before
    same = stand.session.view.version
    assert stand.session.wait_for_change(same, 0.05).version == same  # nothing changed: returns after the wait


def test_an_uploader_that_fails_costs_the_session_nothing(tmp_path):
    def refuse(*_: object) -> None:
        raise OSError("spool disk full")

    stand = Stand(tmp_path)
    stand.session.on_page = stand.session.on_end = refuse
    stand.session.handle("tag", CODE)
    view = stand.shoot(1)
    assert view.pages == 1 and view.last.ok and view.notice == ""
    stand.session.handle("tag", CODE)
    assert stand.session.view.dossier is None and [p["page"] for p in manifest(tmp_path)["pages"]] == [1]
    assert stand.session.counts["hand_on_errors"] == 2


def test_with_the_gateway_disk_full_no_shot_is_taken_and_the_keeper_is_told_why(stand, tmp_path):
    room: list[str | None] = ["300 MB free on the gateway, pages need at least 1024 MB"]
    stand.session.room_for_pages = lambda: room[0]
    stand.session.handle("tag", CODE)
    assert stand.session.view.notice == "disk_full"  # said at once, before the keeper lays a page
    view = stand.shoot(1)
    assert view.pages == 0 and view.notice == "disk_full" and "300 MB free" in view.notice_detail
    assert not (tmp_path / CODE / "0001.tif").exists() and stand.pages == []
    room[0] = None  # space freed
    view = stand.shoot(1)
    assert view.pages == 1 and view.last.ok and view.notice == ""


def test_with_the_disk_full_a_tethered_cameras_photos_wait_in_its_folder(tmp_path):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    stand = Stand(tmp_path / "pages", camera="folder", source=str(inbox), trigger="camera")
    now = [0.0]
    stand.session.camera = FolderCamera(inbox, sleep=lambda s: None, monotonic=lambda: now[0])
    stand.session.camera.open()
    room: list[str | None] = ["10 MB free on the gateway, pages need at least 1024 MB"]
    stand.session.room_for_pages = lambda: room[0]
    stand.session.handle("tag", CODE)
    stand.scene.lay(1)
    cv2.imwrite(str(inbox / "IMG_0001.JPG"), SimulatedCamera(stand.scene, (2400, 1800)).still(1.0))

    def ticks() -> None:
        for _ in range(3):  # long enough for the camera to call the file whole
            stand.session.tick()
            now[0] += WHOLE_AFTER_S + 1

    ticks()
    assert (inbox / "IMG_0001.JPG").exists(), "the photo stays where the camera put it"
    assert stand.session.view.notice == "disk_full" and stand.session.view.pages == 0
    room[0] = None
    ticks()
    assert stand.session.view.pages == 1 and not (inbox / "IMG_0001.JPG").exists()
    assert (inbox / "done" / CODE / "IMG_0001.JPG").exists()


class WatchedCamera(SimulatedCamera):
    """The simulated camera, remembering (weakly) the last photo it handed out."""

    def still(self, timeout_s: float = 10.0):
        photo = super().still(timeout_s)
        self.last = weakref.ref(photo)
        return photo


def test_the_photo_is_let_go_once_corrected_before_the_page_files_are_written(tmp_path):
    stand = Stand(tmp_path)
    camera = WatchedCamera(stand.scene, (2400, 1800))
    stand.session.camera = camera
    alive_when_handed_on = []
    stand.session.on_page = lambda root, code, entry: alive_when_handed_on.append(camera.last() is not None)
    stand.session.handle("tag", CODE)
    view = stand.shoot(1)
    assert view.pages == 1 and view.notice == ""
    assert alive_when_handed_on == [False]  # the files were written without the 12 MP photo in memory


def test_the_verdict_is_shown_while_the_pages_files_are_still_being_written(tmp_path, slow_card):
    stand = Stand(tmp_path)
    stand.session.start()
    try:
        stand.session.submit("tag", CODE)
        slow_card.hold()
        stand.scene.lay(1, ("finger",))
        stand.session.submit("shoot")
        wait_until(slow_card.writing.is_set, 120, "page 1's files being written")
        view = stand.session.view  # shown before the page was turned upright and its files begun
        assert view.last.page == 1 and not view.last.ok and "hand" in view.last.failed  # the verdict as ever
        assert view.saving == 1 and view.last.access == "", "no image to show yet"
        assert view.pages == 0 and view.recent == (), "not counted before it is on the card"
        assert not (tmp_path / CODE / "0001.jpg").exists() and stand.pages == []
        slow_card.release()
        view = wait_until(lambda: (v := stand.session.view).pages == 1 and v, 120, "page 1 written")
        assert view.saving is None and view.retake == 1 and [s.page for s in view.recent] == [1]
        assert view.last.access == str(tmp_path / CODE / "0001.jpg") and Path(view.last.access).is_file()
        assert [p["page"] for p in manifest(tmp_path)["pages"]] == [1]
        wait_until(lambda: stand.pages, 60, "page 1 handed on for upload")
    finally:
        slow_card.release()
        stand.session.stop()


def test_a_page_whose_files_cannot_be_written_is_not_kept_and_is_shot_again(stand, tmp_path, caplog):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    full_card(tmp_path / CODE, "0002.tif")
    with caplog.at_level(logging.ERROR, "gateway.copystand"):
        view = stand.shoot(2)
    assert view.notice == "not_kept" and view.notice_page == 2 and "No space left on device" in view.notice_detail
    assert view.last is None and view.saving is None, "no verdict left standing for a page that is not there"
    assert view.pages == 1 and [s.page for s in view.recent] == [1] and view.retake is None
    assert stand.session.counts["not_kept"] == 1 and stand.session.counts["pages"] == 1
    assert f"page 2 of {CODE} NOT kept" in caplog.text
    assert [p["page"] for p in manifest(tmp_path)["pages"]] == [1] and [p["page"] for p in stand.pages] == [1]
    assert sorted(p.name for p in (tmp_path / CODE).iterdir()) == ["0001.jpg", "0001.tif", "manifest.json"]
    view = stand.shoot(2)  # the same page again, on a card with room (the writer took the link away)
    assert view.last.page == 2 and view.last.ok and view.pages == 2 and view.notice == ""
    assert [p["page"] for p in manifest(tmp_path)["pages"]] == [1, 2] and [p["page"] for p in stand.pages] == [1, 2]


def test_pages_not_kept_raise_one_warning_for_the_dashboard_cleared_by_the_next_page_kept(stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.shoot(1)
    full_card(tmp_path / CODE, "0002.tif")
    stand.shoot(2)
    full_card(tmp_path / CODE, "0002.tif")
    stand.shoot(2)  # the card fails again: still the one warning
    stand.shoot(2)
    alerts = [e for e in stand.events if e["kind"] == "page_not_kept"]
    assert [(e["severity"], e["data"].get("cleared", False)) for e in alerts] == [("warning", False), ("info", True)]
    raised, cleared = alerts
    assert raised["device"] == "stand" and raised["data"] | {"error": ""} == {
        "stand": "stand",
        "dossier": CODE,
        "page": 2,
        "error": "",
    }
    assert "No space left on device" in raised["data"]["error"] and "NOT kept" in raised["message"]
    assert cleared["device"] == "stand" and cleared["data"]["page"] == 2


@pytest.mark.parametrize("failing", ["0001.tif", "0001.jpg", "manifest.json"])
def test_a_retake_that_cannot_be_written_leaves_the_page_as_it_was_to_be_retaken_again(failing, stand, tmp_path):
    stand.session.handle("tag", CODE)
    stand.shoot(1, ("finger",))
    before = manifest(tmp_path)["pages"]
    full_card(tmp_path / CODE, failing)
    view = stand.shoot(1)
    assert view.notice == "not_kept" and view.notice_page == 1
    assert view.retake == 1 and view.pages == 1 and not view.recent[0].ok, "page 1 as it was, still to be retaken"
    assert manifest(tmp_path)["pages"] == before and stand.session.counts["retakes"] == 0
    for entry in before[0]["files"].values():  # the files on the card are still the ones the manifest names
        assert sha256_of(tmp_path / CODE / entry["path"]) == entry["sha256"]
    view = stand.shoot(1)
    assert view.last.page == 1 and view.last.ok and view.retake is None and view.pages == 1
    assert manifest(tmp_path)["pages"][0]["qc"]["ok"] and stand.session.counts["retakes"] == 1
