"""The README's DeepFN verdict quotes the replication's seeds.json as it is (never typed by hand)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from readme_figures import seeds_difference, seeds_sentence  # noqa: E402


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
