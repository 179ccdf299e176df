"""benchmarks/screen_deepfn.py's template table: each template's rows, shares and changes against none."""

from __future__ import annotations

import json
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _screen(folder: Path, rows: dict[str, tuple[float, float, float, float, float]]) -> Path:
    """results.jsonl of one template's screen: per name (cross, all darker, all lighter, adjusted darker, lighter)."""
    folder.mkdir(parents=True)
    lines = [json.dumps({"name": name, "cross": c, "all_darker": d, "all_lighter": li, "all_adj_darker": ad,
                         "all_adj_lighter": al}) for name, (c, d, li, ad, al) in rows.items()]
    # an earlier line without the every-model figures (a screen before they were recorded) is merged, not listed
    (folder / "results.jsonl").write_text(json.dumps({"name": "old", "cross": 50.0}) + "\n" + "\n".join(lines) + "\n")
    return folder


def test_template_table_gives_shares_differences_and_changes_against_none(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    from screen_deepfn import template_table

    a = _screen(tmp_path / "screen-template-T1", {"none": (40.0, 35.0, 42.0, 37.0, 40.0),
                                                  "oracle": (70.0, 70.0, 71.0, 72.0, 71.0),
                                                  "variant": (64.0, 60.0, 68.0, 63.0, 68.0)})
    b = _screen(tmp_path / "screen-template-T6", {"none": (36.0, 33.0, 42.0, 36.0, 40.0),
                                                  "oracle": (66.0, 66.0, 66.0, 68.0, 66.0),
                                                  "variant": (61.0, 58.0, 65.0, 61.0, 65.0)})
    table = template_table([a, b], skin={"T1": 1, "T6": 6}).splitlines()
    assert len(table) == 2 + 6 and not any("| old |" in line for line in table)
    # share (64 - 40) / (70 - 40) = 80 %; difference -8.0, change vs none -8.0 - (-7.0) = -1.0; adjusted -5.0, -2.0
    assert "| T1 (1) | variant | 64.0 | 80 % | 60.0 / 68.0 | -8.0 | -1.0 | -5.0 | -2.0 |" in table
    assert "| T6 (6) | none | 36.0 | 0 % | 33.0 / 42.0 | -9.0 | — | -4.0 | — |" in table
    assert "| T6 (6) | variant | 61.0 | 83 % | 58.0 / 65.0 | -7.0 | +2.0 | -4.0 | +0.0 |" in table
