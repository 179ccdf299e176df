"""The action units the renderer animates, and each one's facial region."""

from __future__ import annotations

AUS: tuple[int, ...] = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)
AU_NAMES: dict[int, str] = {
    1: "inner brow raiser",
    2: "outer brow raiser",
    4: "brow lowerer",
    6: "cheek raiser",
    7: "lid tightener",
    10: "upper lip raiser",
    12: "lip corner puller",
    14: "dimpler",
    15: "lip corner depressor",
    17: "chin raiser",
    23: "lip tightener",
    24: "lip pressor",
}
# Facial region each AU acts on (the region names of Identity.region_box); used by tests and previews.
AU_REGION: dict[int, str] = {
    1: "brows", 2: "brows", 4: "brows", 6: "eyes_cheeks", 7: "eyes_cheeks",
    10: "mouth", 12: "mouth", 14: "mouth", 15: "mouth", 17: "mouth", 23: "mouth", 24: "mouth",
}
# AUs coded by each synthetic source; the DISFA-like set codes the paper's cross-dataset five.
CODED_AUS: dict[str, tuple[int, ...]] = {
    "bp4d-synth": AUS,
    "disfa-synth": (1, 2, 4, 6, 12),
}
INTENSITY_AUS: dict[str, tuple[int, ...]] = {
    "bp4d-synth": (6, 10, 12, 14, 17),
    "disfa-synth": (1, 2, 4, 6, 12),
}
# Occurrence threshold on the 0-5 intensity: BP4D codes A-level and above, DISFA uses >= 2 (paper convention).
OCCURRENCE_THRESHOLD: dict[str, int] = {"bp4d-synth": 1, "disfa-synth": 2}
