"""Face preprocessing: the bundled Haar detector finds faces in camera frames, crops are aligned 128x128 gray."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from auditkit.data.preprocess import FacePreprocessor, PreprocessConfig
from auditkit.data.synth.aus import AUS
from auditkit.data.synth.capture import CAPTURES
from auditkit.data.synth.generate import SynthConfig, make_identities
from auditkit.data.synth.render import FaceRenderer
from auditkit.errors import AuditkitError


def _scene(roll: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    # SF001 of seed 0: a face whose eyes OpenCV's eye cascade finds, so alignment can be checked
    ident = make_identities(SynthConfig(bp4d_subjects=6, disfa_subjects=2))[6]
    face = FaceRenderer(ident, CAPTURES[ident.dataset], 256).render(np.ones((1, len(AUS))))[0]
    scene = np.full((480, 640), 90, np.uint8)
    scene[100:356, 200:456] = face
    m = cv2.getRotationMatrix2D((328, 228), roll, 1.0)
    return cv2.cvtColor(cv2.warpAffine(scene, m, (640, 480), borderValue=90), cv2.COLOR_GRAY2BGR), face


def test_crop_is_gray_square_of_the_face() -> None:
    scene, _ = _scene()
    pre = FacePreprocessor()
    box = pre.detect(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY))
    assert box is not None
    x, y, w, h = box
    assert 180 <= x <= 260 and 80 <= y <= 160 and 150 <= w <= 260  # the face was pasted at (200, 100), 256 px
    crop = pre(scene)
    assert crop.shape == (128, 128) and crop.dtype == np.uint8
    assert FacePreprocessor(PreprocessConfig(size=64))(scene).shape == (64, 64)


def test_no_face_gives_none() -> None:
    blank = np.random.default_rng(0).integers(80, 120, (480, 640), dtype=np.uint8)
    assert FacePreprocessor()(blank) is None


def test_eyes_level_a_rolled_head() -> None:
    upright, _ = _scene(0)
    rolled, _ = _scene(12)  # counter-clockwise on screen
    pre = FacePreprocessor()
    gray = cv2.cvtColor(rolled, cv2.COLOR_BGR2GRAY)
    assert pre.eye_angle(gray, pre.detect(gray)) == pytest.approx(-12, abs=3)
    ref = pre(upright).astype(float)
    aligned = np.abs(pre(rolled).astype(float) - ref).mean()
    unaligned = np.abs(FacePreprocessor(PreprocessConfig(align=False))(rolled).astype(float) - ref).mean()
    assert aligned < 0.6 * unaligned


def test_missing_cascade_is_a_clear_error() -> None:
    with pytest.raises(AuditkitError, match="nope.xml"):
        FacePreprocessor(PreprocessConfig(cascade="nope.xml"))


def test_dlib_hog_detector_finds_the_face_and_the_choice_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("dlib")
    scene, _ = _scene()
    pre = FacePreprocessor(PreprocessConfig(detector="dlib-hog"))
    x, y, w, h = pre.detect(cv2.cvtColor(scene, cv2.COLOR_BGR2GRAY))
    assert 180 <= x <= 280 and 80 <= y <= 200 and 120 <= w <= 260  # the face was pasted at (200, 100), 256 px
    assert pre(scene).shape == (128, 128)
    blank = np.random.default_rng(0).integers(80, 120, (480, 640), dtype=np.uint8)
    assert pre(blank) is None
    with pytest.raises(AuditkitError, match="unknown face detector 'mtcnn'"):
        PreprocessConfig(detector="mtcnn")
    import sys

    monkeypatch.setitem(sys.modules, "dlib", None)  # not installed: a one-line hint, not an ImportError
    with pytest.raises(AuditkitError, match=r"auditkit\[dlib\]"):
        FacePreprocessor(PreprocessConfig(detector="dlib-hog"))
