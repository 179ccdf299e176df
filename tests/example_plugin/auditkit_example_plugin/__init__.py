"""Example third-party classifier: predicts each AU's training base rate, ignoring the face.

It shows the whole plugin contract: a factory taking keyword options (auditkit passes seed, threads and training
options), fit(X, Y, X_val, Y_val) with Y coded -1 for not-coded labels, and predict_proba(X) -> (n, n_aus).
"""

from __future__ import annotations

import numpy as np


class BaseRateClassifier:
    """Always predicts the training base rate of each AU (a floor any real model should beat)."""

    name = "base-rate"

    def __init__(self, **options: object) -> None:
        self.rates: np.ndarray | None = None

    def fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> BaseRateClassifier:
        """Base rate of each AU among coded training frames."""
        coded = Y >= 0
        self.rates = np.where(coded.any(0), (Y == 1).sum(0) / np.maximum(coded.sum(0), 1), 0.0)
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """The same probabilities for every face."""
        assert self.rates is not None, "fit first"
        return np.tile(self.rates.astype(np.float32), (len(X), 1))
