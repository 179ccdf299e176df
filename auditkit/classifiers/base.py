"""The AUClassifier interface (DESIGN.md), in scikit-learn's shapes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class AUClassifier(Protocol):
    """fit(X, Y, X_val, Y_val) -> self; predict_proba(X) -> (n, n_aus). Y is int8 with -1 for not-coded entries."""

    def fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> AUClassifier:
        """Train on faces X (n, H, W) and labels Y (n, n_aus); select the model on the validation set."""
        ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Per-AU presence probabilities (n, n_aus)."""
        ...
