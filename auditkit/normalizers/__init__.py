"""Face normalizers: map a subject's faces to a common appearance before AU classification."""

from auditkit.normalizers.base import Normalizer

__all__ = ["Normalizer"]
