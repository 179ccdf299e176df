"""AU classifiers: multi-label models mapping faces to per-AU probabilities."""

from auditkit.contract import Classifier

__all__ = ["Classifier"]
