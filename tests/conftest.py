"""Shared fixtures: tiny synthetic datasets generated through the real code path."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
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


SMALL_TREE = dict(subjects=2, frames=8, tasks=2, width=480, height=360, face=160)


@pytest.fixture(scope="session")
def bp4d_tree_pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A BP4D look-alike tree (2 subjects x 2 tasks x 8 coded frames + 2 uncoded images) with demographics.csv."""
    from auditkit.data.synth.official import TreeConfig, write_bp4d_tree

    root = tmp_path_factory.mktemp("bp4d") / "BP4D"
    write_bp4d_tree(root, TreeConfig(**SMALL_TREE)).to_csv(root / "demographics.csv", index=False)
    return root


@pytest.fixture(scope="session")
def disfa_tree_pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A DISFA look-alike tree (2 subjects, 24-frame left-camera videos) with demographics.csv."""
    from auditkit.data.synth.official import TreeConfig, write_disfa_tree

    root = tmp_path_factory.mktemp("disfa") / "DISFA"
    write_disfa_tree(root, TreeConfig(**{**SMALL_TREE, "frames": 24})).to_csv(root / "demographics.csv", index=False)
    return root


@pytest.fixture()
def bp4d_tree(bp4d_tree_pristine: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the BP4D look-alike tree."""
    return Path(shutil.copytree(bp4d_tree_pristine, tmp_path / "BP4D"))


@pytest.fixture()
def disfa_tree(disfa_tree_pristine: Path, tmp_path: Path) -> Path:
    """A private, writable copy of the DISFA look-alike tree."""
    return Path(shutil.copytree(disfa_tree_pristine, tmp_path / "DISFA"))


def kill_mid_run(cmd: list[str], out: Path, parts: int = 2) -> int:
    """Start `cmd` (an audit writing into `out`), SIGKILL its whole process group once `parts` trainings are stored
    (no chance to clean up: the hardest interruption); returns how many parts had been stored."""
    import os
    import signal
    import subprocess
    import time

    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    from auditkit.protocol.audit_dir import AuditDir

    while time.time() < deadline and len(AuditDir(out).finished_parts()) < parts:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return len(AuditDir(out).finished_parts())


def _simulated_audit(rng: np.random.Generator, n: int = 9, reps: int = 10, drawn: int = 6, gap: float = 0.0,
                     shift_a: float = 0.0, sd_subject: float = 0.05, sd_model: float = 0.03,
                     sd_model_group: float = 0.03, sd_cell: float = 0.04) -> pd.DataFrame:
    """Cells of a two-pool gap audit as `auditkit gap` draws it: per repetition and pool a model trained on `drawn`
    people, tested on the pool's rest (within) and on every subject of the other pool (cross). A score = the subject's
    own level + the model's quality + how that model suits the tested group + noise; `gap` is added to within cells,
    `shift_a` to every cell of pool A."""
    level = {f"{g}{i}": rng.normal(0, sd_subject) for g in "AB" for i in range(n)}
    rows = []
    for r in range(reps):
        for train in "AB":
            quality, out = rng.normal(0, sd_model), set(rng.permutation(n)[:drawn])
            for test in "AB":
                suits = rng.normal(0, sd_model_group)
                for i in range(n):
                    if test == train and i in out:
                        continue
                    s = f"{test}{i}"
                    score = (level[s] + quality + suits + rng.normal(0, sd_cell) + (gap if test == train else 0.0)
                             + (shift_a if test == "A" else 0.0))
                    rows.append(("within" if test == train else "cross", test, s, "audit", r, score))
    return pd.DataFrame(rows, columns=["arm", "stratum", "subject", "run", "repetition", "score"])




@pytest.fixture()
def simulated_audit() -> Callable[..., pd.DataFrame]:
    """Cells (arm, stratum, subject, run, repetition, score) of a simulated two-pool gap audit in which people and
    trainings both vary: _simulated_audit(rng, ...)."""
    return _simulated_audit
