"""The README's DeepFN verdict quotes the replication's seeds.json as it is (never typed by hand)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from readme_figures import disparity_reading, seeds_difference, seeds_sentence, seeds_wider  # noqa: E402


def _spread(mean: float, sd: float, n: int = 3) -> dict:
    return {"mean": mean, "sd": sd, "n": n, "lower": mean - 2 * sd / n**0.5}


def _pts(x: float) -> str:
    return f"{100 * x:+.1f}"


def test_seeds_sentence_and_difference_read_seeds_json(tmp_path: Path) -> None:
    assert seeds_sentence(tmp_path) == "" and seeds_difference(tmp_path, _pts) == ""  # no seeds run: nothing said
    rows = [{"split": "fitzpatrick", "normalizer": "deepfn", "seeds": 3, "share": _spread(0.66, 0.03),
             "groups": {"darker": _spread(0.58, 0.04), "lighter": _spread(0.75, 0.02)},
             "difference": {"none": _spread(-0.05, 0.01), "deepfn": _spread(-0.08, 0.02), "oracle": _spread(-0.01, 0.01)},
             "comparison": "darker vs lighter"},
            {"split": "gender", "normalizer": "deepfn", "seeds": 3, "share": _spread(0.70, 0.05), "groups": {},
             "difference": {}, "comparison": "female vs male"},
            {"split": "fitzpatrick", "normalizer": "histeq", "seeds": 3, "share": _spread(0.02, 0.01), "groups": {},
             "difference": {}, "comparison": "darker vs lighter"}]
    (tmp_path / "seeds.json").write_text(json.dumps(rows))
    sentence = seeds_sentence(tmp_path)
    assert sentence.startswith("; over 3 seeds")
    assert "skin type 66 ± 3.0 % (mean − 2·sd/√n 63 %; worst-served group darker 58 ± 4.0 %)" in sentence
    assert "gender 70 ± 5.0 % (mean − 2·sd/√n 64 %)" in sentence and "histeq" not in sentence
    assert seeds_difference(tmp_path, _pts) == "; over 3 seeds none -5.0 ± 1.0, deepfn -8.0 ± 2.0, oracle -1.0 ± 1.0"


def test_disparity_reading_says_wider_only_as_far_as_the_test_supports_it() -> None:
    assert "DeepFN widens the difference" in disparity_reading(True, 0.001)
    unclear = disparity_reading(True, 0.375)
    assert "widens" not in unclear and "interval holds 0" in unclear
    assert disparity_reading(False, 0.375) == "DeepFN narrows it as well."
    assert "more than twice its standard error over the seeds" in disparity_reading(True, 0.375, over_seeds=True)


def test_seeds_wider_compares_the_seed_means_against_their_standard_error(tmp_path: Path) -> None:
    assert seeds_wider(tmp_path) is None

    def write(deepfn: tuple[float, float], none: tuple[float, float]) -> None:
        rows = [{"split": "fitzpatrick", "normalizer": "deepfn", "difference": {
            "deepfn": {"mean": deepfn[0], "sd": deepfn[1], "n": 3}, "none": {"mean": none[0], "sd": none[1], "n": 3}}}]
        (tmp_path / "seeds.json").write_text(json.dumps(rows))

    write((-0.069, 0.003), (-0.050, 0.008))  # the replication's: 1.9 points wider, standard error 0.5
    assert seeds_wider(tmp_path) is True
    write((-0.055, 0.010), (-0.050, 0.008))  # 0.5 points wider, standard error 0.7
    assert seeds_wider(tmp_path) is False
