"""Histogram equalization by the whole image (the paper) and by the inner face (what the background cannot move)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from auditkit.normalizers.histeq import HistEqNormalizer, equalize, face_mask, grey_background, whole_face_weight


def _face_on(background: int, skin: int, seed: int = 0) -> np.ndarray:
    """A 64x64 face: textured skin inside the inner-face ellipse, a flat noisy background around it."""
    rng = np.random.default_rng(seed)
    img = np.clip(background + rng.normal(0, 2, (64, 64)), 0, 255)
    mask = face_mask(64, 64)
    texture = skin + 12 * np.sin(np.arange(64) / 3.0)[None, :] + rng.normal(0, 1, (64, 64))
    img[mask] = texture[mask]
    return np.clip(img, 0, 255).astype(np.uint8)


def test_image_region_is_opencv() -> None:
    faces = np.random.default_rng(1).integers(0, 256, (4, 32, 48), dtype=np.uint8)
    assert np.array_equal(equalize(faces), np.stack([cv2.equalizeHist(f) for f in faces]))
    assert np.array_equal(equalize(faces, "image"), equalize(faces))


def test_face_region_ignores_the_background() -> None:
    """The same face on a darker and on a lighter background: equalized by the face, its pixels come out the same;
    equalized by the whole image they do not (the mechanism that made darker faces normalize worse)."""
    mask = face_mask(64, 64)
    on_dark, on_light = _face_on(20, 90), _face_on(200, 90)
    by_face = equalize(np.stack([on_dark, on_light]), "face")
    assert np.array_equal(by_face[0][mask], by_face[1][mask])
    by_image = equalize(np.stack([on_dark, on_light]), "image")
    assert np.abs(by_image[0][mask].astype(int) - by_image[1][mask]).mean() > 20


def test_face_region_spreads_the_face_over_the_full_range() -> None:
    out = equalize(_face_on(200, 60)[None], "face")[0]
    inside = out[face_mask(64, 64)]
    assert inside.min() == 0 and inside.max() == 255
    assert out[0, 0] == 255  # a background brighter than every face pixel saturates instead of spreading its noise


def test_face_mask_is_a_central_ellipse() -> None:
    m = face_mask(100, 100)
    assert m[52, 50] and not m[0, 0] and not m[52, 5] and not m[2, 50]
    assert 0.3 < m.mean() < 0.4


def test_flat_faces_and_empty_stacks() -> None:
    flat = np.full((2, 16, 16), 77, np.uint8)
    assert np.array_equal(equalize(flat, "face"), flat)
    assert equalize(np.zeros((0, 8, 8), np.uint8), "face").shape == (0, 8, 8)


def test_unknown_region_is_refused() -> None:
    with pytest.raises(ValueError, match="region must be one of image, face"):
        equalize(np.zeros((1, 8, 8), np.uint8), "hair")


def test_normalizer_equalizes() -> None:
    faces = np.random.default_rng(2).integers(0, 256, (3, 16, 16), dtype=np.uint8)
    assert np.array_equal(HistEqNormalizer().fit(faces, {}).transform("s", faces), equalize(faces))


def test_grey_background_keeps_the_whole_face_and_greys_the_rest() -> None:
    w = whole_face_weight(64, 64)
    assert w.shape == (64, 64) and w.dtype == np.float32 and 0 <= w.min() and w.max() <= 1
    assert w[face_mask(64, 64)].mean() > 0.97  # the inner face (and more: brows, chin) is kept
    assert w[0, 0] < 1e-3 and w[0, 32] < 0.05 and w[32, 0] < 0.05  # corners and the sides of the crop are background
    assert 0.05 < w[32, 11] < 0.95  # the edge is soft, so no sharp contour is drawn into the image
    dark_on_bright = _face_on(200, 40)
    grey = grey_background(dark_on_bright[None])[0]
    assert abs(grey[0, 0] - 127.5) < 0.2 and abs(grey[32, 32] - dark_on_bright[32, 32]) < 0.5
    # whatever the background behind a darker or a lighter face, it comes out the same
    a, b = grey_background(np.stack([_face_on(200, 40), _face_on(30, 180)]).astype(np.float32))
    assert np.abs(a[w < 1e-3] - b[w < 1e-3]).max() < 0.2
