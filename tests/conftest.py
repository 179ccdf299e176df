"""Shared fixtures: tiny synthetic datasets generated through the real code path."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from auditkit.data.synth.generate import SynthConfig, generate

TINY = SynthConfig(seed=7, frames_per_subject=24, bp4d_subjects=4, disfa_subjects=2)


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 6-subject, 24-frames-per-subject synthetic dataset (read-only: copy before changing it)."""
    return generate(tmp_path_factory.mktemp("tiny") / "data", TINY, n_jobs=1)


@pytest.fixture()
def dataset_copy(tiny_dataset: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the tiny dataset."""
    return Path(shutil.copytree(tiny_dataset, tmp_path / "data"))


AUDIT = SynthConfig(seed=7, frames_per_subject=30, bp4d_subjects=18, disfa_subjects=8)


@pytest.fixture(scope="session")
def audit_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """26 subjects (18 BP4D-like with 9 women and 9 men, 8 DISFA-like), 30 frames each: enough for small audits."""
    return generate(tmp_path_factory.mktemp("audit") / "data", AUDIT, n_jobs=1)
