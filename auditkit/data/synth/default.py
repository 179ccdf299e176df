"""The synthetic defaults every command falls back on without --data: rendered once into the auditkit cache.

Two of them, because the person split needs what the others do not: person-dependent models learn from one person's
frames, and with the 300 frames per person of the general default (about 37 per task sequence) they lose to
person-independent ones trained on four people (measured by benchmarks/bench_person_split.py: 300 frames -14.3 points,
1,000 -5.1, 2,000 +6.4, the paper's direction; BP4D itself has about 3,500 coded frames per person). The person split
therefore defaults to 2,000 frames for each BP4D-like person (its scope: the largest source), while the other
splits keep the small default that renders in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from auditkit.data.format import META_FILE
from auditkit.files import cache_root

if TYPE_CHECKING:
    from auditkit.data.synth.generate import SynthConfig

PERSON_FRAMES = 2000  # frames per BP4D-like person in the person split's default


def default_data_dir(attrs: tuple[str, ...] | list[str] = ()) -> Path:
    """Where the synthetic default for these attributes lives: <cache root>/synth-default, or synth-person for the
    person split."""
    return cache_root() / ("synth-person" if list(attrs) == ["person"] else "synth-default")


def default_config(attrs: tuple[str, ...] | list[str] = ()) -> SynthConfig:
    """The SynthConfig of the default for these attributes (the person split: BP4D-like people, PERSON_FRAMES each)."""
    from auditkit.data.synth.generate import SynthConfig

    return (
        SynthConfig(frames_per_subject=PERSON_FRAMES, disfa_subjects=0) if list(attrs) == ["person"] else SynthConfig()
    )


def ensure_default_dataset(progress: Callable[[int, int], None] | None = None,
                           attrs: tuple[str, ...] | list[str] = ()) -> Path:
    """The synthetic default's directory for these attributes, rendering it first if it is not there yet (the
    general default ~15 s on 2 cores; the person split's ~60 s)."""
    from auditkit.data.synth.generate import generate

    path = default_data_dir(attrs)
    if not (path / META_FILE).exists():
        generate(path, default_config(attrs), force=True, progress=progress)
    return path
