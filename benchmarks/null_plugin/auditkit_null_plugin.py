"""A normalizer that changes nothing systematic, for the calibration benchmark (bench_calibration.py).

`jitter` adds -1, 0 or +1 grey level to each pixel (its own random stream per subject and seed). The faces are the
same to any model, but the classifier trained on them follows another optimisation path: an audit of `none` and
`jitter` is a normalizer comparison whose true change is nothing but training variation. Registered through the
dist-info beside this file, found when this folder is on PYTHONPATH.
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np

from auditkit import Normalizer


class JitterNormalizer(Normalizer):
    """Identity up to +-1 grey level of noise: a normalizer with no systematic effect."""

    name = "jitter"
    cache_version = 1

    def __init__(self, seed: int = 0, progress: Any = None) -> None:
        """`seed` picks the noise; `progress` is unused."""
        self.seed = seed

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> JitterNormalizer:
        """Nothing to learn."""
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """The faces plus -1/0/+1 grey level, clipped to 0-255."""
        key = int.from_bytes(hashlib.sha256(f"{self.seed}|{subject}".encode()).digest()[:4], "little")
        noise = np.random.default_rng(key).integers(-1, 2, size=np.shape(faces), dtype=np.int16)
        return np.clip(np.asarray(faces, np.int16) + noise, 0, 255).astype(np.uint8)
