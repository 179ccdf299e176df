"""The Table 5 replication benchmark on a small audit: table, ceiling shares, and resuming without re-running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_replication.py"


def _command(data: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, str(SCRIPT), "--data", str(data), "--out", str(out), "--splits", "gender",
            "--normalizers", "none,histeq,oracle", "--preset", "smoke", "--jobs", "1", *extra]


@pytest.fixture(scope="module")
def seeds_run(audit_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One benchmark run at seeds 0 and 1, which both tests read (each run of the script is ~20 s of audits)."""
    out = tmp_path_factory.mktemp("replication") / "seeds"
    done = subprocess.run(_command(audit_dataset, out, "--seeds", "0,1"), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.slow
def test_replication_table_and_resume(audit_dataset: Path, seeds_run: Path) -> None:
    out = seeds_run
    table = (out / "table5.md").read_text()
    assert "| gender (female / male) | none |" in table and "| gender (female / male) | oracle |" in table
    assert "| 55.0 | 52.6 | +2.4 |" in table  # the paper's gender figures sit beside ours
    # the gap with its subject x training interval, and the oracle's change to the gap tested as a change
    oracle = next(line for line in table.splitlines() if line.startswith("| gender (female / male) | oracle |"))
    assert "change in the gap vs none (95 % CI)" in table and oracle.split(" | ")[7].count("(") == 1
    timings = json.loads((out / "timings.json").read_text())
    assert len(timings["splits"]["gender"]["invocations"]) == 1
    assert timings["splits"]["gender"]["invocations"][0]["peak_rss_mib"] > 0
    second = subprocess.run(_command(audit_dataset, out, "--seeds", "0,1"), capture_output=True, text=True,
                            timeout=600)
    assert second.returncode == 0, second.stderr
    assert second.stderr.count("finished earlier, skipped") == 2  # both seeds' audits
    again = json.loads((out / "timings.json").read_text())["splits"]
    assert len(again["gender"]["invocations"]) == 1 and len(again["gender@seed-1"]["invocations"]) == 1


@pytest.mark.slow
def test_shares_over_seeds(audit_dataset: Path, seeds_run: Path) -> None:
    """--seeds runs each split once per seed (other draws and fits) and tables the shares as mean ± sd."""
    out = seeds_run
    assert (out / "gender" / "results.parquet").is_file() and (out / "seed-1" / "gender" / "results.parquet").is_file()
    run0 = json.loads((out / "gender" / "run.json").read_text())
    run1 = json.loads((out / "seed-1" / "gender" / "run.json").read_text())
    assert run0["config"]["seed"] == 0 and run1["config"]["seed"] == 1
    over = json.loads((out / "seeds.json").read_text())
    assert [(r["split"], r["normalizer"], r["seeds"]) for r in over] == [("gender", "histeq", 2)]
    # smoke audits are too small for a ceiling above the floor (shares n/a): the arithmetic is checked below
    assert over[0]["difference"]["none"]["n"] == 2 and set(over[0]["groups"]) == {"female", "male"}
    table = (out / "table5.md").read_text()
    assert "Over seeds 0, 1" in table and "| gender (female / male) | histeq | 2 |" in table
    bad = subprocess.run(_command(audit_dataset, out, "--seeds", "0,x"), capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "--seeds: expected comma-separated integers" in bad.stderr
    outside = subprocess.run(_command(audit_dataset, out, "--seeds", "0,1", "--seed-splits", "person"),
                             capture_output=True, text=True, timeout=60)
    assert outside.returncode != 0 and "--seed-splits: person not in --splits" in outside.stderr


def test_seed_rows_take_mean_sd_and_lower_bound_over_seeds() -> None:
    sys.path.insert(0, str(SCRIPT.parent))
    from bench_replication import seed_rows, seeds_markdown

    def rows(seed_share: float, none_diff: float) -> list[dict]:
        base = {"split": "fitzpatrick", "comparison": "darker vs lighter"}
        return [{**base, "normalizer": "none", "share_cross": 0.0, "difference": none_diff,
                 "adjusted_difference": none_diff / 2},
                {**base, "normalizer": "deepfn", "share_cross": seed_share, "difference": -0.05,
                 "adjusted_difference": -0.03},
                {**base, "normalizer": "oracle", "share_cross": 1.0, "difference": -0.01, "adjusted_difference": 0.0}]

    groups = [{"split": "fitzpatrick", "normalizer": "deepfn", "test_group": "darker", "share_cross": 0.6}]
    once = [{"split": "dataset", "normalizer": n, "share_cross": s, "difference": 0.0, "comparison": "a vs b"}
            for n, s in (("none", 0.0), ("deepfn", 0.5), ("oracle", 1.0))]  # run at the first seed only
    over = seed_rows({0: (rows(0.6, -0.06) + once, groups), 1: (rows(0.7, -0.04), groups), 2: (rows(0.8, -0.05), [])})
    assert [(r["normalizer"], r["seeds"]) for r in over] == [("deepfn", 3)]  # no spread from one seed: left out
    share = over[0]["share"]
    assert abs(share["mean"] - 0.7) < 1e-12 and abs(share["sd"] - 0.1) < 1e-12 and share["n"] == 3
    assert abs(share["lower"] - (0.7 - 2 * 0.1 / 3**0.5)) < 1e-12
    assert over[0]["groups"]["darker"]["n"] == 2 and abs(over[0]["difference"]["none"]["mean"] + 0.05) < 1e-12
    table = seeds_markdown(over, [0, 1, 2])
    assert "| skin type (I–II vs V–VI) | deepfn | 3 | 70 ± 10.0 | 58 | darker 60 ± 0.0 |" in table
    assert "darker vs lighter: -5.0 ± 1.0 / -5.0 ± 0.0 / -1.0 ± 0.0 | -2.5 ± 0.5 / -3.0 ± 0.0 / +0.0 ± 0.0 |" in table
    assert over[0]["adjusted_difference"]["deepfn"]["n"] == 3
