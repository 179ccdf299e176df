"""Each AU deforms its own facial region; identities look different."""

from __future__ import annotations

import numpy as np
import pytest

from auditkit.data.synth.aus import AU_REGION, AUS
from auditkit.data.synth.capture import CAPTURES
from auditkit.data.synth.face import region_pixels
from auditkit.data.synth.generate import SynthConfig, make_identities
from auditkit.data.synth.render import FaceRenderer

IDS = make_identities(SynthConfig(seed=3, bp4d_subjects=5, disfa_subjects=2))


@pytest.mark.parametrize("au", AUS)
def test_au_changes_pixels_mainly_in_its_region(au: int) -> None:
    k = AUS.index(au)
    for ident in IDS:
        renderer = FaceRenderer(ident, CAPTURES[ident.dataset])
        codes = np.zeros((2, len(AUS)), np.float32)
        codes[1, k] = 4.0
        neutral, active = renderer.render(codes).astype(float)
        diff = np.abs(active - neutral)
        x0, y0, x1, y1 = region_pixels(ident, AU_REGION[au])
        inside = diff[y0:y1, x0:x1].sum()
        assert diff.sum() > 500, f"AU{au:02d} barely changes {ident.subject}"
        assert inside / diff.sum() > 0.75, (
            f"AU{au:02d} on {ident.subject}: only {inside / diff.sum():.0%} in its region"
        )


def test_intensity_scales_the_change() -> None:
    renderer = FaceRenderer(IDS[0], CAPTURES["bp4d-synth"])
    codes = np.zeros((3, len(AUS)), np.float32)
    codes[1, AUS.index(12)] = 1.5
    codes[2, AUS.index(12)] = 4.5
    f = renderer.render(codes).astype(float)
    assert np.abs(f[2] - f[0]).sum() > 1.5 * np.abs(f[1] - f[0]).sum()


def test_identities_differ_more_than_noise() -> None:
    neutral = np.zeros((1, len(AUS)), np.float32)
    a, b = (FaceRenderer(i, CAPTURES["bp4d-synth"]).render(neutral)[0].astype(float) for i in IDS[:2])
    assert np.abs(a - b).mean() > 5.0


def test_darker_skin_renders_darker() -> None:
    neutral = np.zeros((1, len(AUS)), np.float32)
    light = [i for i in make_identities(SynthConfig()) if i.fitzpatrick == 1][0]
    dark = [i for i in make_identities(SynthConfig()) if i.fitzpatrick == 6][0]
    cap = CAPTURES["bp4d-synth"]
    mean_face = [FaceRenderer(i, cap).render(neutral)[0][40:90, 40:90].mean() for i in (light, dark)]
    assert mean_face[0] > mean_face[1] + 40
