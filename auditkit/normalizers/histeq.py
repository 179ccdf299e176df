"""`histeq`: per-image histogram equalization, the paper's preprocessing step and a cheap normalization baseline."""

from __future__ import annotations

import cv2
import numpy as np

from auditkit.contract import OUTPUT_BACKGROUNDS, OUTPUT_REGIONS, Normalizer

# bump when a change here can change the faces it returns
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1


REGIONS = OUTPUT_REGIONS  # the region whose histogram sets the mapping
# The inner face of an aligned crop: an ellipse centred a little below the middle, 60 % of the width and 76 % of the
# height across. Equalizing by the whole crop lets the background decide the mapping: a face darker than the
# background is stretched to mid-grey while the flat, noisy background is spread over the bright levels, and a lighter
# face gets the opposite, so skin tone changes what the equalized image looks like (benchmarks/README.md, "DeepFN
# against the ceiling").
FACE_CENTER = (0.5, 0.52)
FACE_AXES = (0.3, 0.38)
# Background handling of DeepFN's inputs: "keep" the crop as it is, or set everything outside the whole face (the inner
# face's ellipse, axes x FACE_ONLY_SCALE: brows to chin) to mid-grey. Even equalized by the face, the background of a
# darker face (brighter than the skin) saturates white and a lighter face's goes black, so a darker head moved as a
# high-contrast silhouette and its pose drowned its expression (benchmarks/README.md, "DeepFN against the ceiling").
BACKGROUNDS = OUTPUT_BACKGROUNDS
FACE_ONLY_SCALE = 1.15


def face_mask(height: int, width: int) -> np.ndarray:
    """(height, width) bool mask of the inner-face ellipse of an aligned crop."""
    y, x = np.mgrid[0:height, 0:width]
    u = (x + 0.5 - FACE_CENTER[0] * width) / (FACE_AXES[0] * width)
    v = (y + 0.5 - FACE_CENTER[1] * height) / (FACE_AXES[1] * height)
    return u**2 + v**2 <= 1.0


def whole_face_weight(height: int, width: int, scale: float = FACE_ONLY_SCALE) -> np.ndarray:
    """(height, width) float32 in [0, 1]: 1 on the whole face (the inner-face ellipse x `scale`), 0 on the
    background, the edge softened over about 1/32 of the width so that no sharp contour is drawn into the image."""
    y, x = np.mgrid[0:height, 0:width]
    u = (x + 0.5 - FACE_CENTER[0] * width) / (FACE_AXES[0] * scale * width)
    v = (y + 0.5 - FACE_CENTER[1] * height) / (FACE_AXES[1] * scale * height)
    return cv2.GaussianBlur((u**2 + v**2 <= 1.0).astype(np.float32), (0, 0), width / 32)


def grey_background(faces: np.ndarray, grey: float = 127.5, scale: float = FACE_ONLY_SCALE) -> np.ndarray:
    """(n, H, W) faces as float32 with the background outside the whole face set to `grey` (mid-grey of 0-255; 0.5
    for faces in [0, 1])."""
    w = whole_face_weight(*faces.shape[1:], scale=scale)
    return faces.astype(np.float32) * w + grey * (1 - w)


def _equalize_by(face: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Map every pixel through the equalizing curve of the masked pixels' histogram (OpenCV's rounding)."""
    hist = np.bincount(face[mask], minlength=256)
    cdf = np.cumsum(hist)
    lowest = cdf[np.flatnonzero(hist)[0]]
    if cdf[-1] == lowest:  # one grey level: nothing to stretch
        return face.copy()
    lut = np.clip(np.round(255.0 * (cdf - lowest) / (cdf[-1] - lowest)), 0, 255).astype(np.uint8)
    return lut[face]


def equalize(faces: np.ndarray, region: str = "image") -> np.ndarray:
    """Histogram-equalize each (H, W) uint8 face of an (n, H, W) stack by the histogram of the whole image (the
    paper) or of its inner face (`region="face"`: the background no longer sets the mapping)."""
    faces = np.asarray(faces, dtype=np.uint8)
    if region not in REGIONS:
        raise ValueError(f"region must be one of {', '.join(REGIONS)}, got {region!r}")
    if not len(faces):
        return faces.copy()
    if region == "image":
        return np.stack([cv2.equalizeHist(f) for f in faces])
    mask = face_mask(*faces.shape[1:])
    return np.stack([_equalize_by(f, mask) for f in faces])


class HistEqNormalizer(Normalizer):
    """Equalizes each face's grey-level histogram (removes global skin-tone and illumination level differences)."""

    name = "histeq"

    cache_version = CACHE_VERSION  # part of every cache key and audit identity that holds its output

    def __init__(self, seed: int = 0, progress: object = None) -> None:
        """Takes no settings of its own; `seed` and `progress`, which the runner passes every normalizer, are unused."""
        self.seed = seed

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> HistEqNormalizer:
        """Nothing to learn."""
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """Equalized faces, same shape."""
        return equalize(faces)
