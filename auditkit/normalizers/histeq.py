"""`histeq`: per-image histogram equalization, the paper's preprocessing step and a cheap normalization baseline."""

from __future__ import annotations

import cv2
import numpy as np

from auditkit.contract import Normalizer

# bump when a change here can change the faces it returns
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1


def equalize(faces: np.ndarray) -> np.ndarray:
    """Histogram-equalize each (H, W) uint8 face of an (n, H, W) stack."""
    faces = np.asarray(faces, dtype=np.uint8)
    return np.stack([cv2.equalizeHist(f) for f in faces]) if len(faces) else faces.copy()


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
