"""Training tasks: which subjects (or sequences) train, validate and test, per pool and repetition."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from auditkit.errors import AuditkitError
from auditkit.protocol.groups import Pool


def stable_int(*parts: object) -> int:
    """A hash of the parts that is the same on every machine and run (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:4], "little")


@dataclass(frozen=True)
class Task:
    """One training: a model trained on `train` (validated on `val`) and tested on each entry of `tests`.

    kind 'group': subjects from pool `train_pool`; tests cover every pool (within when the pool is the training one).
    kind 'person-independent' / 'person-dependent': the person split; the latter trains on sequences of one subject.
    """

    key: str
    kind: str
    train_pool: str
    repetition: int
    seed: int
    train: tuple[str, ...]
    val: tuple[str, ...]
    tests: tuple[tuple[str, tuple[str, ...]], ...]
    subject: str | None = None
    sequences: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready form for run.json."""
        d = {"key": self.key, "kind": self.kind, "train_pool": self.train_pool, "repetition": self.repetition,
             "seed": self.seed, "train": list(self.train), "val": list(self.val),
             "tests": {p: list(s) for p, s in self.tests}}
        if self.subject:
            d["subject"] = self.subject
            d["sequences"] = {k: list(v) for k, v in self.sequences.items()}
        return d


def group_tasks(pools: list[Pool], repeats: int, n_train: int, n_val: int, seed: int) -> list[Task]:
    """Per repetition and pool: draw train/val subjects; test on the pool's rest (within) and all other pools
    (cross)."""
    tasks = []
    for rep in range(repeats):
        for pool in pools:
            s = stable_int(seed, "group", pool.name, rep)
            order = np.random.default_rng(s).permutation(len(pool.subjects))
            members = [pool.subjects[i] for i in order]
            train, val, rest = members[:n_train], members[n_train : n_train + n_val], members[n_train + n_val :]
            tests = tuple((p.name, tuple(sorted(rest)) if p.name == pool.name else p.subjects) for p in pools)
            tasks.append(Task(f"{_slug(pool.name)}-r{rep:02d}", "group", pool.name, rep, s, tuple(sorted(train)),
                              tuple(sorted(val)), tests))
    return tasks


def sequence_split(subject: str, sequences: list[str], rng: np.random.Generator) -> dict[str, tuple[str, ...]]:
    """Disjoint train/val/test sequences of one subject (about 60/20/20, each at least one)."""
    if len(sequences) < 3:
        raise AuditkitError(f"person-dependent split: subject '{subject}' has {len(sequences)} sequence(s); "
                            "it needs at least 3 (train, validation, test) with no temporal overlap")
    seqs = [sequences[i] for i in rng.permutation(len(sequences))]
    n_test = max(1, round(0.2 * len(seqs)))
    n_val = max(1, round(0.2 * len(seqs)))
    return {"test": tuple(sorted(seqs[:n_test])), "val": tuple(sorted(seqs[n_test : n_test + n_val])),
            "train": tuple(sorted(seqs[n_test + n_val :]))}


def person_tasks(pool: Pool, frames: pd.DataFrame, repeats: int, n_train: int, n_val: int, seed: int,
                 dependent_per_repeat: int) -> list[Task]:
    """Person-independent draws (4 train, 2 val, rest test) and person-dependent models for some of the tested
    people."""
    seqs = frames.groupby("subject")["sequence"].unique()
    tasks = []
    for rep in range(repeats):
        s = stable_int(seed, "person", rep)
        rng = np.random.default_rng(s)
        members = [pool.subjects[i] for i in rng.permutation(len(pool.subjects))]
        train, val, rest = members[:n_train], members[n_train : n_train + n_val], members[n_train + n_val :]
        tasks.append(Task(f"independent-r{rep:02d}", "person-independent", "all", rep, s, tuple(sorted(train)),
                          tuple(sorted(val)), (("all", tuple(sorted(rest))),)))
        chosen = rest[: math.ceil(dependent_per_repeat)] if dependent_per_repeat > 0 else []
        for subject in sorted(chosen):
            ss = stable_int(seed, "person-dependent", rep, subject)
            split = sequence_split(subject, sorted(map(str, seqs[subject])), np.random.default_rng(ss))
            tasks.append(
                Task(
                    f"dependent-{_slug(subject)}-r{rep:02d}", "person-dependent", subject, rep, ss, (subject,),
                    (subject,), ((subject, (subject,)),), subject=subject, sequences=split,
                )
            )
    return tasks


def _slug(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:60]
