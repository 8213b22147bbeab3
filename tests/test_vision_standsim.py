"""The simulated copy stand: deterministic photos whose ground truth matches what is drawn."""

from __future__ import annotations

import numpy as np
import pytest

from vision.standsim import simulate


def test_same_seed_same_photo_and_truth():
    a, b = simulate(3), simulate(3)
    assert np.array_equal(a.image, b.image)
    assert a.truth == b.truth


def test_good_shot_page_inside_frame_and_brighter_than_a_dark_stand():
    shot = simulate(5, stand="dark")
    h, w = shot.image.shape[:2]
    quad = np.array(shot.truth["page_quad"])
    assert (quad >= 0).all() and (quad[:, 0] < w).all() and (quad[:, 1] < h).all()
    centre = quad.mean(0).astype(int)
    assert shot.image[centre[1], centre[0]].mean() > shot.image[5, 5].mean() + 80


def test_faults_are_recorded_and_cut_off_page_leaves_the_frame():
    shot = simulate(7, faults=("cut_off",))
    assert shot.truth["faults"] == ["cut_off"]
    h, w = shot.image.shape[:2]
    quad = np.array(shot.truth["page_quad"])
    assert ((quad < 0) | (quad[:, :1] >= w) | (quad[:, 1:] >= h)).any()
    assert simulate(1, faults=("no_page",)).truth["page_quad"] is None


def test_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="unknown faults"):
        simulate(1, faults=("smudge",))
