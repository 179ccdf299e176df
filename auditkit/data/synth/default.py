"""The synthetic default dataset every command falls back on: rendered once into the auditkit cache."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from auditkit.data.format import META_FILE
from auditkit.files import cache_root


def default_data_dir() -> Path:
    """Where the synthetic default dataset lives: <auditkit cache root>/synth-default."""
    return cache_root() / "synth-default"


def ensure_default_dataset(progress: Callable[[int, int], None] | None = None) -> Path:
    """The synthetic default's directory, rendering it first if it is not there yet (~15 s on 2 cores)."""
    from auditkit.data.synth.generate import SynthConfig, generate

    path = default_data_dir()
    if not (path / META_FILE).exists():
        generate(path, SynthConfig(), force=True, progress=progress)
    return path
