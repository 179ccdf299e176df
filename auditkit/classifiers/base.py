"""The AUClassifier interface (DESIGN.md), in scikit-learn's shapes."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class AUClassifier(Protocol):
    """fit(X, Y, X_val, Y_val) -> self; predict_proba(X) -> (n, n_aus). Y is int8 with -1 for not-coded entries.

    X is uint8 faces at the plugin's `input_size` (default 64): (n, H, W), or (n, H, W, 3) for a plugin whose
    `channels` is 3 (the gray face on each channel, for backbones that expect colour input).
    """

    def fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> AUClassifier:
        """Train on faces X (n, H, W) and labels Y (n, n_aus); select the model on the validation set."""
        ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Per-AU presence probabilities (n, n_aus)."""
        ...


DEFAULT_INPUT_SIZE = 64  # LeNet-5's (Table 3); a classifier plugin may declare another with an `input_size` attribute


def input_size_of(plugin: object) -> int:
    """The square face size (pixels) a classifier plugin (class or factory) takes: its `input_size`, else 64."""
    size = getattr(plugin, "input_size", DEFAULT_INPUT_SIZE)
    if not isinstance(size, int) or size < 8:
        raise ValueError(f"input_size must be an integer of at least 8 pixels, got {size!r}")
    return size


def channels_of(plugin: object) -> int:
    """How many channels a classifier plugin (class or factory) takes: its `channels`, 1 (gray) or 3; else 1."""
    channels = getattr(plugin, "channels", 1)
    if channels not in (1, 3) or isinstance(channels, bool):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    return int(channels)


def with_channels(faces: np.ndarray, channels: int) -> np.ndarray:
    """(n, H, W) gray faces as a plugin with `channels` takes them: unchanged for 1, (n, H, W, 3) for 3."""
    return faces if channels == 1 else np.repeat(faces[..., None], channels, axis=-1)


def runtime_note_of(plugin: object) -> str | None:
    """A line a classifier plugin wants printed about how it runs here (e.g. a slower fallback and why), if any."""
    note = getattr(plugin, "runtime_note", None)
    return note() if callable(note) else None


def runtime_of(plugin: object) -> str | None:
    """How a classifier plugin computes on this machine, for the audit's record: its `runtime()`, if it has one.

    Paths that give equal results only up to float rounding (LeNet-5's C kernels or PyTorch layers) are named here,
    so an audit's run.json says which one produced its numbers.
    """
    runtime = getattr(plugin, "runtime", None)
    return str(runtime()) if callable(runtime) else None
