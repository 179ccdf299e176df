"""The README's DeepFN verdict quotes the replication's seeds.json as it is (never typed by hand)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from readme_figures import adjusted_reading, disparity_reading, seeds_difference, seeds_sentence, seeds_wider  # noqa: E402


def _spread(mean: float, sd: float, n: int = 3) -> dict:
    return {"mean": mean, "sd": sd, "n": n, "lower": mean - 2 * sd / n**0.5}


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def test_seeds_sentence_and_difference_read_seeds_json(tmp_path: Path) -> None:
    assert seeds_sentence(tmp_path) == "" and seeds_difference(tmp_path, _pts) == ""  # no seeds run: nothing said
    rows = [
        {
            "split": "fitzpatrick",
            "normalizer": "deepfn",
            "seeds": 3,
            "share": _spread(0.66, 0.03),
            "groups": {"darker": _spread(0.58, 0.04), "lighter": _spread(0.75, 0.02)},
            "difference": {
                "none": _spread(-0.05, 0.01),
                "deepfn": _spread(-0.08, 0.02),
                "oracle": _spread(-0.01, 0.01),
            },
            "comparison": "darker vs lighter",
        },
        {
            "split": "gender",
            "normalizer": "deepfn",
            "seeds": 3,
            "share": _spread(0.70, 0.05),
            "groups": {},
            "difference": {},
            "comparison": "female vs male",
        },
        {
            "split": "fitzpatrick",
            "normalizer": "histeq",
            "seeds": 3,
            "share": _spread(0.02, 0.01),
            "groups": {},
            "difference": {},
            "comparison": "darker vs lighter",
        },
    ]
    (tmp_path / "seeds.json").write_text(json.dumps(rows))
    sentence = seeds_sentence(tmp_path)
    assert sentence.startswith("; over 3 seeds")
    assert "skin type 66 ± 3.0 % (mean − 2·sd/√n 63 %; worst-served group darker 58 ± 4.0 %)" in sentence
    assert "gender 70 ± 5.0 % (mean − 2·sd/√n 64 %)" in sentence and "histeq" not in sentence
    assert seeds_difference(tmp_path, _pts) == "; over 3 seeds none -5.0 ± 1.0, deepfn -8.0 ± 2.0, oracle -1.0 ± 1.0"


def test_disparity_reading_says_wider_only_as_far_as_the_test_supports_it() -> None:
    assert "DeepFN widens the difference" in disparity_reading(True, 0.001)
    assert disparity_reading(False, 0.001) == "DeepFN narrows the difference as well."
    unclear = disparity_reading(True, 0.375)
    assert "widens" not in unclear and "interval holds 0" in unclear and "not a smaller disparity" in unclear
    assert "narrows" not in disparity_reading(False, 0.375)  # a narrower point estimate its test does not support
    consistent = disparity_reading(True, 0.375, seeds_p=0.01)
    assert "consistent across re-runs" in consistent and "cannot yet generalize" in consistent
    assert "consistent" not in disparity_reading(True, 0.375, seeds_p=0.2)


def _seeds(tmp_path: Path, deepfn: tuple[float, float], none: tuple[float, float], n: int = 3) -> Path:
    rows = [{"split": "fitzpatrick", "normalizer": "deepfn", "difference": {
        "deepfn": {"mean": deepfn[0], "sd": deepfn[1], "n": n}, "none": {"mean": none[0], "sd": none[1], "n": n}}}]
    (tmp_path / "seeds.json").write_text(json.dumps(rows))
    return tmp_path


def test_seeds_wider_is_welchs_test_on_the_seed_means(tmp_path: Path) -> None:
    assert seeds_wider(tmp_path) is None
    assert seeds_wider(_seeds(tmp_path, (-0.050, 0.003), (-0.069, 0.008))) == 1.0  # narrower: never "wider"
    assert seeds_wider(_seeds(tmp_path, (-0.090, 0.003), (-0.050, 0.004))) < 0.001
    assert seeds_wider(_seeds(tmp_path, (-0.055, 0.010), (-0.050, 0.008))) > 0.3


@pytest.mark.slow
def test_seeds_wider_is_calibrated_under_the_null_and_finds_a_planted_widening(tmp_path: Path) -> None:
    # three seeds per normalizer drawn from one distribution: "wider, p < 0.05" about 2.5 % of the time (one side of
    # a two-sided 5 % test); a widening of three seeds' sd is found most of the time
    rng = np.random.default_rng(0)

    def rate(shift: float, trials: int = 2000) -> float:
        hits = 0
        for _ in range(trials):
            a, b = rng.normal(-0.05 - shift, 0.01, 3), rng.normal(-0.05, 0.01, 3)
            p = seeds_wider(_seeds(tmp_path, (a.mean(), a.std(ddof=1)), (b.mean(), b.std(ddof=1))))
            hits += p < 0.05
        return hits / trials

    assert 0.01 < rate(0.0) < 0.045
    assert rate(0.03) > 0.6


def test_the_equal_base_rate_reading_and_seeds_use_their_own_figures(tmp_path: Path) -> None:
    assert "no change the audit can tell from noise (p = 0.400)" in adjusted_reading(False, 0.4)
    assert "still widens the difference (p = 0.010)" in adjusted_reading(True, 0.01)
    assert "over the seeds, on the same 17 people, Welch p = 0.019" in adjusted_reading(True, 0.449, seeds_p=0.019)
    assert "not met, nor clearly missed" in adjusted_reading(True, 0.449, seeds_p=0.3)
    rows = [{"split": "fitzpatrick", "normalizer": "deepfn", "seeds": 3, "difference": {
        "deepfn": {"mean": -0.09, "sd": 0.003, "n": 3}, "none": {"mean": -0.05, "sd": 0.004, "n": 3}},
        "adjusted_difference": {"deepfn": {"mean": -0.02, "sd": 0.003, "n": 3},
                                "none": {"mean": -0.03, "sd": 0.004, "n": 3},
                                "oracle": {"mean": 0.01, "sd": 0.002, "n": 3}}}]
    (tmp_path / "seeds.json").write_text(json.dumps(rows))
    assert seeds_wider(tmp_path) < 0.001 and seeds_wider(tmp_path, "adjusted_difference") == 1.0
    assert seeds_difference(tmp_path, _pts, "adjusted_difference") == \
        "; over 3 seeds none -3.0 ± 0.4, deepfn -2.0 ± 0.3, oracle +1.0 ± 0.2"
