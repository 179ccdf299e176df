"""Frames a tool or a detector missed, per group: the test between groups holds its size and finds a planted bias."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from auditkit.protocol.coverage import MISSED_TEST, missed_by_group


def _shares(rng: np.random.Generator, extra: float = 0.0, subjects: int = 20, frames: int = 200) -> pd.DataFrame:
    """Per subject: frames and frames missed, at a person's own miss rate (not the group's) plus `extra` for B."""
    group = np.where(rng.permutation(np.arange(subjects) % 2) == 1, "B", "A")
    rate = np.clip(rng.beta(2, 20, subjects) + extra * (group == "B"), 0, 1)
    missed = rng.binomial(frames, rate)
    return pd.DataFrame({"group": group, "subject": [f"s{i}" for i in range(subjects)], "frames": frames,
                         "missed": missed, "missed_share": missed / frames})


@pytest.mark.slow
def test_missed_frames_test_is_calibrated_and_finds_a_detector_that_misses_one_group_more() -> None:
    rng = np.random.default_rng(11)
    null = [missed_by_group(_shares(rng))[1].iloc[0] for _ in range(200)]
    assert null[0]["test"] == MISSED_TEST
    assert 0.02 <= np.mean([r["p"] < 0.05 for r in null]) <= 0.09
    planted = [missed_by_group(_shares(rng, extra=0.12))[1].iloc[0]["p"] for _ in range(40)]
    assert np.mean(np.array(planted) < 0.05) >= 0.8  # 12 % more frames missed for one group


def test_flat_shares_that_differ_are_still_tested() -> None:
    per = pd.DataFrame({"group": ["f"] * 6 + ["m"] * 6, "subject": [f"s{i}" for i in range(12)], "frames": 40,
                        "missed": [0] * 6 + [10] * 6})
    per["missed_share"] = per["missed"] / per["frames"]
    summary, tests = missed_by_group(per)
    assert tests.iloc[0]["p"] < 0.01 and np.isnan(tests.iloc[0]["statistic"])  # 2 of 924 relabellings as extreme
