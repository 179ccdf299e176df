"""Temporally smooth AU intensity sequences: emotion episodes with realistic co-occurrence plus solo actions."""

from __future__ import annotations

import numpy as np

from auditkit.data.synth.aus import AUS
from auditkit.data.synth.identity import Identity

# Emotion prototypes: which AUs fire together, and how strongly relative to the episode.
PROTOTYPES: dict[str, dict[int, float]] = {
    "happy": {6: 0.8, 12: 1.0, 10: 0.25, 7: 0.3, 14: 0.15},
    "sad": {1: 0.8, 4: 0.6, 15: 0.9, 17: 0.5},
    "surprise": {1: 1.0, 2: 1.0},
    "embarrassed": {12: 0.6, 14: 0.5, 24: 0.5, 17: 0.3},
    "fear": {1: 0.8, 2: 0.6, 4: 0.7, 7: 0.4, 23: 0.2},
    "pain": {4: 0.9, 6: 0.7, 7: 0.9, 10: 0.6, 23: 0.3},
    "anger": {4: 1.0, 7: 0.7, 23: 0.8, 24: 0.7},
    "disgust": {10: 1.0, 17: 0.5, 4: 0.4, 15: 0.3, 7: 0.3},
    "contempt": {14: 1.0, 12: 0.3},
}
# Sequences of each source and the emotions they elicit (BP4D's eight tasks; DISFA's stimulus clips).
TASKS: dict[str, dict[str, dict[str, float]]] = {
    "bp4d-synth": {
        "T1": {"happy": 1.0, "embarrassed": 0.3},
        "T2": {"sad": 1.0, "happy": 0.15},
        "T3": {"surprise": 1.0, "fear": 0.3},
        "T4": {"embarrassed": 1.0, "happy": 0.5},
        "T5": {"fear": 1.0, "surprise": 0.3},
        "T6": {"pain": 1.0},
        "T7": {"anger": 1.0, "contempt": 0.3},
        "T8": {"disgust": 1.0, "pain": 0.2},
    },
    "disfa-synth": {
        "clip1": {"happy": 1.0, "surprise": 0.5},
        "clip2": {"sad": 1.0, "fear": 0.5},
        "clip3": {"disgust": 1.0, "surprise": 0.5},
        "clip4": {"happy": 1.0, "anger": 0.3},
    },
}
# Solo-action base rates (episodes per 60 frames) and overall activity of each source (DISFA is calmer).
SOLO_RATE = dict(zip(AUS, (0.35, 0.3, 0.35, 0.3, 0.5, 0.3, 0.35, 0.5, 0.25, 0.4, 0.25, 0.25), strict=True))
ACTIVITY = {"bp4d-synth": 1.4, "disfa-synth": 0.6}
EPISODES_PER_60 = 2.6


def _envelope(t: np.ndarray, onset: float, duration: float) -> np.ndarray:
    rise, fall = 0.3 * duration, 0.4 * duration
    x = t - onset
    up = 0.5 - 0.5 * np.cos(np.pi * np.clip(x / rise, 0, 1))
    down = 0.5 + 0.5 * np.cos(np.pi * np.clip((x - (duration - fall)) / fall, 0, 1))
    return np.where((x >= 0) & (x <= duration), np.minimum(up, down), 0.0)


def _ar1(rng: np.random.Generator, n: int, sd: float, rho: float) -> np.ndarray:
    out = np.empty(n)
    out[0] = rng.normal(0, sd)
    eps = rng.normal(0, sd * np.sqrt(1 - rho**2), n)
    for i in range(1, n):
        out[i] = rho * out[i - 1] + eps[i]
    return out


def sample_intensities(rng: np.random.Generator, ident: Identity, task: dict[str, float], n: int) -> np.ndarray:
    """Continuous AU intensities (n, len(AUS)) in [0, 5] for one sequence of one person."""
    t = np.arange(n, dtype=np.float64)
    k = len(AUS)
    out = np.zeros((n, k))
    activity = ACTIVITY[ident.dataset] * ident.expressiveness
    names = list(task)
    weights = np.array([task[e] for e in names])
    weights = weights / weights.sum()
    index = {au: i for i, au in enumerate(AUS)}
    for _ in range(rng.poisson(EPISODES_PER_60 * n / 60 * activity)):
        emotion = names[rng.choice(len(names), p=weights)]
        onset = rng.uniform(-6, n)
        duration = rng.uniform(8, 30)
        strength = rng.uniform(1.4, 4.6) * np.sqrt(ident.expressiveness)
        for au, w in PROTOTYPES[emotion].items():
            i = index[au]
            if rng.random() > 0.25 + 0.75 * min(1.0, ident.au_rate[i]):
                continue  # people differ in which parts of a prototype they actually show
            peak = strength * w * ident.au_gain[i] * rng.uniform(0.7, 1.1)
            env = _envelope(t, onset + rng.uniform(-2, 2), duration * rng.uniform(0.8, 1.1))
            out[:, i] = np.maximum(out[:, i], peak * env)
    for au in AUS:
        i = index[au]
        for _ in range(rng.poisson(SOLO_RATE[au] * ident.au_rate[i] * n / 60 * activity)):
            peak = rng.uniform(1.0, 3.6) * ident.au_gain[i]
            out[:, i] = np.maximum(out[:, i], peak * _envelope(t, rng.uniform(-4, n), rng.uniform(5, 18)))
    jitter = np.stack([_ar1(rng, n, 0.12, 0.8) for _ in range(k)], axis=1)
    return np.clip(out + jitter, 0.0, 5.0)


def sample_pose(rng: np.random.Generator, n: int, sd: tuple[float, float, float]) -> np.ndarray:
    """Smooth head pose (n, 3): yaw, pitch, roll in degrees."""
    return np.stack([_ar1(rng, n, s, 0.92) for s in sd], axis=1)


def sample_light(rng: np.random.Generator, n: int) -> np.ndarray:
    """Smooth per-frame illumination gain around 1."""
    return 1.0 + _ar1(rng, n, 0.04, 0.95)


def intensity_labels(x: np.ndarray) -> np.ndarray:
    """FACS-style integer intensity 0-5 from continuous intensity."""
    return np.clip(np.floor(x + 0.5), 0, 5).astype(np.int8)
