"""`none`: the faces as they are; the baseline every audit runs beside a real normalizer."""

from __future__ import annotations

import numpy as np


class IdentityNormalizer:
    """Leaves faces unchanged."""

    name = "none"

    def __init__(self, **options: object) -> None:
        """Takes no options; accepts (and ignores) the common ones the runner passes, such as seed and progress."""

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> IdentityNormalizer:
        """Nothing to learn."""
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """Return the faces unchanged."""
        return np.asarray(faces)
