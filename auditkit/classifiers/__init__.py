"""AU classifiers: multi-label models mapping faces to per-AU probabilities."""

from auditkit.classifiers.base import AUClassifier

__all__ = ["AUClassifier"]
