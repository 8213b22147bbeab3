"""The station page beside the copy stand, in Chromium; and the stand wired into a running gateway."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from gateway.service import GatewayService
from gateway.station import StationServer, create_station
from hardware.config import load
from rfid.keys import signing_key
from rfid.sim_keeper import dossier_code, enrolled_card
from tests.support import full_card, wait_until, write_site
from tests.test_copystand import CODE, Stand


@pytest.fixture
def station(tmp_path) -> Iterator[tuple[Stand, StationServer]]:
    stand = Stand(tmp_path)
    stand.session.start()
    server = StationServer(create_station(stand.session, "zh_CN"), "127.0.0.1:0")
    server.start()
    yield stand, server
    server.stop()
    stand.session.stop()


@pytest.fixture
def page(chromium, station) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1024, "height": 600})  # a 7-inch touchscreen
    page = context.new_page()
    page.goto(station[1].url)
    yield page
    context.close()


def test_the_station_shows_the_dossier_and_each_verdict_as_it_comes_in_chinese(page, station):
    stand, _ = station
    expect(page).to_have_title("翻拍架 stand")
    expect(page.locator("[data-field=dossier]")).to_have_text("无：请把档案标签放到读卡器上")
    expect(page.locator("img[data-field=image]")).to_be_hidden()  # no page yet: no empty frame either
    expect(page.get_by_role("button", name="保留此页")).to_be_hidden()  # only while a page is being retaken
    expect(page.get_by_role("button", name="拍摄本页")).to_be_disabled()  # no dossier open yet
    stand.session.submit("tag", CODE)
    expect(page.locator("[data-field=dossier]")).to_have_text(CODE)
    expect(page.get_by_role("button", name="拍摄本页")).to_be_enabled()
    stand.scene.lay(1)
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=verdict]")).to_have_text("第 1 页: 合格", timeout=20_000)
    expect(page.locator("[data-field=pages]")).to_have_text("1")
    expect(page.locator("img[data-field=image]")).to_be_visible()
    assert page.locator("img[data-field=image]").evaluate("img => img.naturalWidth") > 500


def test_a_page_laid_upside_down_is_shown_upright_and_the_keeper_told_so(page, station):
    stand, _ = station
    stand.session.submit("tag", CODE)
    expect(page.locator("[data-field=dossier]")).to_have_text(CODE)
    stand.scene.lay(1, ("upside_down",))
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=turned]")).to_have_text("此页放反了，已自动转正", timeout=20_000)
    expect(page.locator("[data-field=verdict]")).to_have_text("第 1 页: 合格")
    stand.scene.lay(2)
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=verdict]")).to_have_text("第 2 页: 合格", timeout=20_000)
    expect(page.locator("[data-field=turned]")).to_have_text("")


def test_the_station_says_which_dossier_a_session_closed_and_waits_for_the_next_tag(page, station):
    stand, _ = station
    stand.session.submit("tag", CODE)
    expect(page.get_by_role("button", name="结束翻拍")).to_be_enabled()
    page.get_by_role("button", name="结束翻拍").click()
    expect(page.locator("[data-field=notice]")).to_have_text(f"本次翻拍已结束: {CODE}")
    expect(page.locator("[data-field=dossier]")).to_have_text("无：请把档案标签放到读卡器上")
    expect(page.get_by_role("button", name="拍摄本页")).to_be_disabled()
    expect(page.get_by_role("button", name="结束翻拍")).to_be_disabled()


def test_a_bad_shot_says_why_and_is_retaken_in_place(page, station):
    stand, _ = station
    stand.session.submit("tag", CODE)
    stand.scene.lay(1, ("finger",))
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=verdict]")).to_have_text("第 1 页: 需要重拍", timeout=20_000)
    expect(page.locator("[data-field=reasons]")).to_contain_text("手或手指遮住了页面")
    expect(page.locator("[data-field=retake]")).to_have_text("下一张将替换第 1 页")
    expect(page.get_by_role("button", name="保留此页")).to_be_visible()
    stand.scene.lay(1)
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=verdict]")).to_have_text("第 1 页: 合格", timeout=20_000)
    expect(page.locator("[data-field=pages]")).to_have_text("1")
    stand.scene.lay(2)
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=pages]")).to_have_text("2", timeout=20_000)
    page.get_by_role("button", name="重拍第 1 页").click()
    expect(page.locator("[data-field=retake]")).to_have_text("下一张将替换第 1 页")
    page.get_by_role("button", name="保留此页").click()
    expect(page.locator("[data-field=retake]")).to_have_text("")
    expect(page.get_by_role("button", name="保留此页")).to_be_hidden()


def test_the_keeper_can_switch_the_station_to_english(page, station):
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("button", name="Shoot page")).to_be_visible()
    expect(page.locator("[data-field=dossier]")).to_have_text("None: lay a dossier tag on the reader")


def test_buttons_work_only_from_the_station_page_itself(station):
    _, server = station
    request = urllib.request.Request(server.url + "shoot", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == 403


def test_the_station_shows_only_the_open_dossiers_pages(station):
    _, server = station
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.url + "page/1.jpg", timeout=5)
    assert refused.value.code == 404


def test_a_page_whose_file_is_gone_is_not_found_rather_than_an_error(station, tmp_path):
    stand, server = station
    stand.session.submit("tag", CODE)
    stand.scene.lay(1)
    stand.session.submit("shoot")
    wait_until(lambda: stand.session.view.pages == 1, 60, "page 1")
    with urllib.request.urlopen(server.url + "page/1.jpg", timeout=5) as shown:
        assert shown.status == 200
    (tmp_path / CODE / "0001.jpg").unlink()  # by hand: the uploader leaves an open dossier's files alone
    with pytest.raises(urllib.error.HTTPError) as gone:
        urllib.request.urlopen(server.url + "page/1.jpg", timeout=5)
    assert gone.value.code == 404


def test_the_verdict_comes_before_the_pages_image_and_the_page_befores_image_is_not_shown_meanwhile(
    page, station, slow_card
):
    stand, _ = station
    stand.session.submit("tag", CODE)
    stand.scene.lay(1)
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=pages]")).to_have_text("1", timeout=120_000)
    expect(page.locator("img[data-field=image]")).to_be_visible()
    slow_card.hold()
    stand.scene.lay(2)
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=verdict]")).to_have_text("第 2 页: 合格", timeout=120_000)
    assert slow_card.writing.is_set(), "page 2's files are still being written"
    expect(page.locator("[data-field=saving]")).to_have_text("正在保存第 2 页…")
    expect(page.locator("img[data-field=image]")).to_be_hidden()  # page 1's image is not page 2's
    expect(page.locator("[data-field=pages]")).to_have_text("1")
    slow_card.release()
    expect(page.locator("[data-field=pages]")).to_have_text("2", timeout=120_000)
    expect(page.locator("[data-field=saving]")).to_have_text("")
    image = page.locator("img[data-field=image]")
    expect(image).to_be_visible()
    expect(image).to_have_attribute("src", re.compile(r"^page/2\.jpg"))
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") > 500


def test_a_retaken_page_is_not_served_as_its_earlier_shot_while_it_is_written(station, slow_card):
    stand, server = station
    stand.session.submit("tag", CODE)
    stand.scene.lay(1, ("finger",))
    stand.session.submit("shoot")
    wait_until(lambda: stand.session.view.pages == 1, 120, "page 1, to be retaken")
    slow_card.hold()
    stand.scene.lay(1)
    stand.session.submit("shoot")
    wait_until(slow_card.writing.is_set, 120, "the retake's files being written")
    with pytest.raises(urllib.error.HTTPError) as not_yet:
        urllib.request.urlopen(server.url + "page/1.jpg", timeout=5)
    assert not_yet.value.code == 404
    slow_card.release()
    wait_until(lambda: stand.session.view.retake is None, 120, "the retake written")
    with urllib.request.urlopen(server.url + "page/1.jpg", timeout=5) as shown:
        assert shown.read() == (stand.session.root / CODE / "0001.jpg").read_bytes()


def test_a_page_that_could_not_be_written_is_named_not_kept_and_shot_again(page, station, tmp_path):
    stand, _ = station
    stand.session.submit("tag", CODE)
    stand.scene.lay(1)
    page.get_by_role("button", name="拍摄本页").click()
    expect(page.locator("[data-field=pages]")).to_have_text("1", timeout=120_000)
    full_card(tmp_path / CODE, "0002.tif")
    stand.scene.lay(2)
    page.get_by_role("button", name="拍摄本页").click()
    notice = page.locator("[data-field=notice]")
    expect(notice).to_contain_text("第 2 页未能保存：请重拍此页。文件无法写入", timeout=120_000)
    expect(notice).to_contain_text("No space left on device")
    expect(page.locator("[data-field=verdict]")).to_have_text("")
    expect(page.locator("img[data-field=image]")).to_be_hidden()
    expect(page.locator("[data-field=pages]")).to_have_text("1")
    page.get_by_role("button", name="拍摄本页").click()  # page 2 again, and the card has room now
    expect(page.locator("[data-field=verdict]")).to_have_text("第 2 页: 合格", timeout=120_000)
    expect(page.locator("[data-field=pages]")).to_have_text("2", timeout=120_000)
    expect(notice).to_have_text("")


# -- the stand in a running gateway ----------------------------------------------------------------


def test_a_tag_on_the_stand_reader_and_the_pedal_digitize_a_page_on_the_gateway(tmp_path):
    path = write_site(tmp_path, speed=1.0, port=9)  # no broker: the stand works without one
    path.write_text(
        path.read_text()
        .replace('page_size = "16K"', 'page_size = "A6"')
        .replace('resolution = "12mp"', 'resolution = "2mp"')
    )
    site = load(path)
    service = GatewayService(site, "gw-west", password="unused")
    stop = threading.Event()
    runner = threading.Thread(target=service.run, args=(stop,))
    runner.start()
    try:
        (stand_reader,) = [r for r in service.readers if r.config.id == "stand"]
        (session,) = service.stands.sessions.values()
        card = enrolled_card(3, *signing_key(site))
        stand_reader.field.enter(card)
        wait_until(lambda: session.view.dossier == dossier_code(3), 20, "the session to open")
        stand_reader.field.leave(card)
        session.camera.scene.lay(7)
        pedal = service.controller.pins.pin(site.copy_stands[0].pedal_pin)
        pedal.drive_low()
        pedal.drive_high()
        wait_until(lambda: session.view.pages == 1, 30, "the pedal's page")
        view = json.load(urllib.request.urlopen(service.stands.station_urls()[0] + "view.json", timeout=5))
        assert view["dossier"] == dossier_code(3) and view["last"]["page"] == 1
        assert set(service.uploads.in_use()) == {dossier_code(3)}, "the uploader leaves the open dossier's files"
        done = service.controller.pins.pin(site.copy_stands[0].done_pin)
        done.drive_low()
        done.drive_high()
        wait_until(lambda: session.view.dossier is None, 20, "the done button to close the session")
        assert not set(service.uploads.in_use())
        wait_until(lambda: "manifest" in {q.kind for q in service.uploads.pending()}, 20, "the manifest queued")
    finally:
        stop.set()
        runner.join(30)
    from gateway.outbox import Outbox

    outbox = Outbox(site.outbox_path("gw-west"))
    sent = [json.loads(p.payload) for p in outbox.after(0, 10_000) if p.topic.endswith("/event/stand_session")]
    outbox.close()
    assert [e["data"]["state"] for e in sent] == ["open", "closed"]


def test_every_station_string_has_its_chinese_translation():
    import re

    from babel.messages.pofile import read_po

    from gateway.station import FOLDER, MESSAGES

    template = (FOLDER.parent / "templates" / "station.html").read_text(encoding="utf-8")
    used = set(re.findall(r"_\('([^']+)'\)", template)) | set(MESSAGES.values())
    with (FOLDER / "zh_Hans_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalogue = {m.id: m.string for m in read_po(po) if m.id}
    assert sorted(m for m in used if not catalogue.get(m)) == []
