"""The correction's cheaper paths give what the plain ones give: tiles and strips join without seams, a crop of
the photo warps as the whole photo does, a 4-channel photo warps to the same page as a 3-channel one,
whole-factor shrinking matches one area resize, a warp from the photo halved lands where one from the photo
does, the light fitted on the small work copy flattens the page as the light fitted on the page itself, and
specks looked up in their own windows are the ones the whole page's mask finds."""

from __future__ import annotations

import cv2
import numpy as np

from vision import cleanup, geometry
from vision.page import find_page
from vision.standsim import simulate


def _page() -> np.ndarray:
    shot = simulate(71)
    quad = find_page(shot.image).quad
    h, size = geometry.page_homography(quad, geometry.page_size_mm("A4", quad, None), 150, 3.0, 0.7)
    return shot.image, h, size


def test_a_bgra_photo_warps_in_tiles_to_the_same_page():
    image, h, size = _page()
    plain = geometry.warp(image, h, size)
    # Neither size divides the page's: the last row and column of tiles are partial.
    tiles = geometry.warp(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA), h, size, rows=37, cols=53)
    assert tiles.shape == plain.shape and tiles.dtype == np.uint8
    diff = np.abs(tiles.astype(int) - plain)
    assert diff.max() <= 2 and diff.mean() < 0.05


def test_the_part_of_the_photo_a_warp_reads_warps_to_the_same_page():
    image, h, size = _page()
    plain = geometry.warp(image, h, size)
    box = geometry.source_box(h, size, image.shape)
    assert box[2] - box[0] < image.shape[1] or box[3] - box[1] < image.shape[0]  # the stand around is left out
    part = geometry.warp(image[box[1] : box[3], box[0] : box[2]], geometry.crop_homography(h, box), size)
    diff = np.abs(part.astype(int) - plain)
    assert diff.max() <= 2 and diff.mean() < 0.05


def test_flatten_strips_join_without_seams():
    image, h, size = _page()
    page = geometry.warp(image, h, size)
    one = cleanup.flatten(page, rows=page.shape[0])  # a single strip: the gain stretched in one go
    assert np.array_equal(cleanup.flatten(page, rows=13), one)
    grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    assert np.array_equal(cleanup.flatten(grey, rows=13), cleanup.flatten(grey, rows=grey.shape[0]))


def test_the_light_fitted_on_the_work_copy_flattens_the_page_as_its_own_light_does():
    image, hm, size = _page()  # 150 dpi, turned 0.7 degrees
    quad = find_page(image).quad
    hw, work_size = geometry.page_homography(quad, geometry.page_size_mm("A4", quad, None), 60)
    work = geometry.warp(image, hw, work_size)  # as the pipeline's work copy: not turned, no margin
    page = geometry.warp(image, hm, size)
    own = cleanup.flatten(page)
    light = cleanup.background_from(work, hw @ np.linalg.inv(hm), size)
    assert light.shape == cleanup.background(page).shape
    borrowed = cleanup.flatten(page, light=light)
    diff = np.abs(borrowed.astype(int) - own)
    assert diff.mean() < 0.5 and diff.max() <= 2
    in_place = page.copy()
    assert cleanup.flatten(in_place, light=light, inplace=True) is in_place
    assert np.array_equal(in_place, borrowed)


def test_shrinking_by_a_whole_factor_first_matches_one_area_resize():
    image = simulate(72).image
    size = (640, round(image.shape[0] * 640 / image.shape[1]))  # the page finder's working copy
    two_step = geometry.shrink(image, size)
    direct = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    assert two_step.shape == direct.shape
    diff = two_step.astype(int) - direct
    # The same averages, no brighter or darker; sharp edges land a fraction of a pixel apart.
    assert abs(diff.mean()) < 0.5 and np.abs(diff).mean() < 1.5
    assert geometry.shrink(image, (image.shape[1], image.shape[0])) is image  # nothing to do


def test_a_warp_from_the_photo_halved_lands_where_one_from_the_photo_does():
    # A smooth pattern, odd-sized: halving leaves its values as they are (but the last row and column), so
    # any difference is where the warp reads. Half a pixel off would differ by two levels on average.
    yy, xx = np.mgrid[0:1201, 0:1601].astype(np.float32)
    grey = (128 + 100 * np.sin(xx / 15) * np.cos(yy / 17)).astype(np.uint8)
    photo = cv2.merge([grey, grey, grey])
    half = geometry.halve(photo)
    assert half.shape == (600, 800, 3)
    quad = np.array([[300, 150], [1350, 220], [1300, 1100], [250, 1050]], float)
    h, size = geometry.page_homography(quad, (210, 297), 60)
    direct = geometry.warp(photo, h, size)
    halved = geometry.warp(half, h @ geometry.FROM_HALVED, size)
    diff = np.abs(halved.astype(int) - direct)
    assert diff.mean() < 0.5 and diff.max() <= 2


def test_specks_looked_up_one_by_one_are_those_the_whole_mask_finds(monkeypatch):
    page = np.full((900, 1200, 3), 245, np.uint8)
    rng = np.random.default_rng(5)
    for row in range(8):  # lines of "text" with full stops
        y = 80 + 100 * row
        cv2.putText(page, "Service record. Annual review.", (30, y), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (25, 25, 25), 2)
    for _ in range(60):  # dust, some of it near the text, some alone, some at the page's edge
        x, y = int(rng.integers(0, 1200)), int(rng.integers(0, 900))
        cv2.circle(page, (x, y), int(rng.integers(1, 4)), (45, 45, 45), -1)
    one_by_one, removed = cleanup.despeckle(page, dpi=300)
    monkeypatch.setattr(cleanup, "FEW_SPECKS", 0)  # as a page with many candidates is done
    whole_mask, removed_too = cleanup.despeckle(page, dpi=300)
    assert 0 < removed == removed_too
    assert np.array_equal(one_by_one, whole_mask)
