"""AU classifiers: the typed base (auditkit.contract.Classifier, scikit-learn's shapes) and how the runner reads a
classifier's optional hooks."""

from __future__ import annotations

import numpy as np

from auditkit import contract

DEFAULT_INPUT_SIZE = 64  # LeNet-5's (Table 3); a classifier plugin may declare another with an `input_size` attribute


def input_size_of(plugin: object) -> int:
    """The square face size (pixels) a classifier plugin (class or instance) takes: its `input_size`, else 64."""
    return int(contract.read(plugin, "classifier", "input_size"))


def channels_of(plugin: object) -> int:
    """How many channels a classifier plugin (class or instance) takes: its `channels`, 1 (gray) or 3; else 1."""
    return int(contract.read(plugin, "classifier", "channels"))


def with_channels(faces: np.ndarray, channels: int) -> np.ndarray:
    """(n, H, W) gray faces as a plugin with `channels` takes them: unchanged for 1, (n, H, W, 3) for 3."""
    return faces if channels == 1 else np.repeat(faces[..., None], channels, axis=-1)


def runtime_note_of(plugin: object) -> str | None:
    """A line a classifier plugin wants printed about how it runs here (e.g. a slower fallback and why), if any."""
    return contract.call(plugin, "classifier", "runtime_note")


def runtime_of(plugin: object) -> str | None:
    """How a classifier plugin computes on this machine, for the audit's record: its `runtime()`, if it has one.

    Paths that give equal results only up to float rounding (LeNet-5's C kernels or PyTorch layers) are named here,
    so an audit's run.json says which one produced its numbers.
    """
    runtime = contract.call(plugin, "classifier", "runtime")
    return str(runtime) if runtime is not None else None
