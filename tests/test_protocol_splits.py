"""Splits: disjoint subjects, paper sizes, reproducible draws, person-dependent sequences without overlap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditkit.errors import AuditkitError
from auditkit.protocol.groups import Pool
from auditkit.protocol.splits import group_tasks, person_tasks, sequence_split

A = Pool("A", tuple(f"a{i}" for i in range(9)))
B = Pool("B", tuple(f"b{i}" for i in range(7)))


def test_group_tasks_sizes_and_disjointness() -> None:
    tasks = group_tasks([A, B], repeats=3, n_train=4, n_val=2, seed=0)
    assert len(tasks) == 6
    for t in tasks:
        pool = A if t.train_pool == "A" else B
        tests = dict(t.tests)
        assert len(t.train) == 4 and len(t.val) == 2
        assert set(t.train) | set(t.val) <= set(pool.subjects)
        within = set(tests[pool.name])
        assert within == set(pool.subjects) - set(t.train) - set(t.val)
        other = B if pool is A else A
        assert set(tests[other.name]) == set(other.subjects)
    assert len({t.seed for t in tasks}) == 6


def test_draws_are_reproducible_and_vary_by_repetition() -> None:
    a = group_tasks([A, B], 4, 4, 2, seed=1)
    assert a == group_tasks([A, B], 4, 4, 2, seed=1)
    assert a != group_tasks([A, B], 4, 4, 2, seed=2)
    assert len({t.train for t in a if t.train_pool == "A"}) > 1
    # adding a repetition does not change earlier draws
    assert group_tasks([A, B], 5, 4, 2, seed=1)[:8] == a


def test_person_tasks() -> None:
    people = Pool("all", tuple(f"p{i}" for i in range(10)))
    frames = pd.DataFrame({"subject": np.repeat(people.subjects, 5), "sequence": [f"T{k}" for k in range(5)] * 10})
    tasks = person_tasks(people, frames, repeats=2, n_train=4, n_val=2, seed=0, dependent_per_repeat=3)
    independent = [t for t in tasks if t.kind == "person-independent"]
    dependent = [t for t in tasks if t.kind == "person-dependent"]
    assert len(independent) == 2 and len(dependent) == 6
    for t in dependent:
        seqs = t.sequences
        assert not set(seqs["train"]) & set(seqs["val"]) and not set(seqs["train"]) & set(seqs["test"])
        assert not set(seqs["val"]) & set(seqs["test"])
        assert set(seqs["train"]) | set(seqs["val"]) | set(seqs["test"]) == {f"T{k}" for k in range(5)}
        rep_indep = independent[t.repetition]
        assert t.subject in dict(rep_indep.tests)["all"]  # dependent models are built for people tested independently


def test_sequence_split_needs_three_sequences() -> None:
    with pytest.raises(AuditkitError, match="subject 'x' has 2 sequence"):
        sequence_split("x", ["T1", "T2"], np.random.default_rng(0))
