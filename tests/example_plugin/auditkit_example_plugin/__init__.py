"""Example third-party plugins for auditkit, written from ARCHITECTURE.md's plugin hooks alone.

- `BaseRateClassifier` (entry point `base-rate`): predicts each AU's training base rate, ignoring the face; it
  subclasses `auditkit.Classifier` and sets every optional classifier hook (input size, channels, history,
  runtime, runtime note, cache version, scikit-learn's get_params).
- `ContrastNormalizer` (entry point `contrast`): stretches each face's grey levels between two percentiles; it
  subclasses `auditkit.Normalizer` and implements every optional normalizer hook (check_dataset, bind,
  fitted_settings, extra_options, cache_version, parallel_map).

`auditkit.testing.check_plugin` passes both; the test suite runs them in an audit, locally and on a cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from auditkit import Classifier, Normalizer
from auditkit.errors import AuditkitError


def _describe() -> str:
    return "NumPy base rates"


def _note() -> str | None:
    return None  # nothing to warn about: the same arithmetic everywhere


class BaseRateClassifier(Classifier):
    """Always predicts the training base rate of each AU (a floor any real model should beat)."""

    name = "base-rate"
    input_size = 32  # the runner prepares 32x32 faces for it
    channels = 1
    cache_version = "1"
    runtime = staticmethod(_describe)
    runtime_note = staticmethod(_note)

    def __init__(self, smoothing: float = 0.0, seed: int = 0, threads: int | None = None,
                 **training: Any) -> None:
        # auditkit passes seed, threads and its training options (epochs, lr, ...) to every classifier
        self.smoothing = smoothing
        self.seed = seed
        self.threads = threads
        self.rates: np.ndarray | None = None
        self.history: list[dict] = []

    def fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> BaseRateClassifier:
        """Base rate of each AU among coded training frames (with optional additive smoothing)."""
        coded = Y >= 0
        self.rates = ((Y == 1).sum(0) + self.smoothing) / np.maximum(coded.sum(0) + 2 * self.smoothing, 1)
        val = (Y_val == 1).mean() if Y_val.size else 0.0
        self.history = [{"epoch": 1, "val_f1": float(val)}]
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The same probabilities for every face."""
        if self.rates is None:
            raise AuditkitError("base-rate: predict_proba called before fit")
        return np.tile(self.rates.astype(np.float32), (len(X), 1))

    def train_cost(self, images: int) -> dict:
        """What `auditkit plan` counts for one training: a pass over the labels, next to nothing."""
        return {"what": "base-rate trainings", "count": 1, "cpu_core_s": images * 1e-7, "gpu_s": None,
                "detail": f"one pass over ~{images:,} labels", "source": "a count (no rate measured)"}


class ContrastNormalizer(Normalizer):
    """Stretches each face's grey levels so that its `low` and `high` percentiles span 0-255."""

    name = "contrast"
    cache_version = 1
    extra_options = ("gamma",)  # taken through **more: a setting beyond the constructor's named keywords

    def __init__(self, low: float = 2.0, high: float = 98.0, clip: Literal["yes", "no"] = "yes", seed: int = 0,
                 progress: Callable[[str, int, int], None] | None = None, **more: Any) -> None:
        self.low = low
        self.high = high
        self.clip = clip
        self.seed = seed
        self.gamma = float(more.get("gamma", 1.0))
        self.parallel_map: Callable | None = None  # declared: on a cluster auditkit sets it before fit
        self.template: str | None = None
        self.mapped = 0

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's keywords, `gamma` included (it arrives through **more)."""
        return {"low": self.low, "high": self.high, "clip": self.clip, "seed": self.seed, "gamma": self.gamma}

    @staticmethod
    def check_dataset(dataset: Any) -> None:
        """Refuse datasets whose faces are not 8-bit gray images."""
        if np.asarray(dataset.faces[:1]).dtype != np.uint8:
            raise AuditkitError(f"{dataset.root}: contrast needs uint8 faces")

    def bind(self, dataset: Any, template: str | None) -> None:
        """Note the template subject (for the record)."""
        self.template = template

    def fitted_settings(self) -> dict[str, Any]:
        """The settings as they run, and the template it was bound to."""
        return {"low": self.low, "high": self.high, "clip": self.clip, "gamma": self.gamma, "template": self.template}

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> ContrastNormalizer:
        """Nothing to learn; with a parallel map (a cluster), count the subjects through it as a demonstration."""
        if self.parallel_map is not None:
            self.mapped = len(self.parallel_map(len, [(f,) for f in subject_faces.values()]))
        return self

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """Each face stretched between its percentiles (uint8, same shape)."""
        x = np.asarray(faces, np.float32)
        lo = np.percentile(x, self.low, axis=(1, 2), keepdims=True)
        hi = np.percentile(x, self.high, axis=(1, 2), keepdims=True)
        y = (x - lo) / np.maximum(hi - lo, 1.0)
        y = np.clip(y, 0, 1) if self.clip == "yes" else np.abs(y) % 1.0
        return np.round(255 * y ** self.gamma).astype(np.uint8)
