"""The Normalizer interface (DESIGN.md): fit on template and subject faces, transform one subject's faces."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Normalizer(Protocol):
    """fit(template_faces, subject_faces) -> self; transform(subject, faces) -> faces of the same shape (uint8).

    Plugins are constructed with keyword options and must accept (and may ignore) `seed` and `progress`
    (a callable(description, done, total) for long fits). They may offer `settings() -> dict`: what a report must
    state to make the normalization reproducible (read through `settings_of`).
    """

    name: str

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> Normalizer:
        """Learn whatever the normalizer needs from the template and the subjects it will transform."""
        ...

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """Normalize one subject's (n, H, W) uint8 faces; same shape and dtype out."""
        ...


def settings_of(normalizer: object) -> dict:
    """A normalizer's JSON-ready settings for audit records; {} for plugins that do not describe themselves."""
    describe = getattr(normalizer, "settings", None)
    if not callable(describe):
        return {}
    return {str(k): v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in describe().items()}
