"""`none`: the faces as they are; the baseline every audit runs beside a real normalizer."""

from __future__ import annotations

import numpy as np

from auditkit.contract import Normalizer

# bump when a change here can change the faces it returns
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1


class IdentityNormalizer(Normalizer):
    """Leaves faces unchanged."""

    name = "none"

    cache_version = CACHE_VERSION  # part of every cache key and audit identity that holds its output

    def __init__(self, seed: int = 0, progress: object = None) -> None:
        """Takes no settings of its own; `seed` and `progress`, which the runner passes every normalizer, are unused."""
        self.seed = seed

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> IdentityNormalizer:
        """Nothing to learn."""
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """Return the faces unchanged."""
        return np.asarray(faces)
