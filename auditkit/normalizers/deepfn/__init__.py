"""DeepFN (section 3.1): a shared encoder and two decoders that transfer expressions onto a template face."""

from auditkit.normalizers.deepfn.presets import PRESETS, DeepFNPreset

__all__ = ["PRESETS", "DeepFNPreset"]
