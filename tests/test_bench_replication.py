"""The Table 5 replication benchmark on a small audit: table, ceiling shares, and resuming without re-running."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_replication.py"


def _run(data: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), "--data", str(data), "--out", str(out), "--splits", "gender",
                           "--normalizers", "none,oracle", "--preset", "smoke", "--jobs", "1"],
                          capture_output=True, text=True, timeout=600)


def test_replication_table_and_resume(audit_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "replication"
    first = _run(audit_dataset, out)
    assert first.returncode == 0, first.stderr
    table = (out / "table5.md").read_text()
    assert "| gender (female / male) | none |" in table and "| gender (female / male) | oracle |" in table
    assert "| 55.0 | 52.6 | +2.4 |" in table  # the paper's gender figures sit beside ours
    timings = json.loads((out / "timings.json").read_text())
    assert len(timings["splits"]["gender"]["invocations"]) == 1
    assert timings["splits"]["gender"]["invocations"][0]["peak_rss_mib"] > 0
    second = _run(audit_dataset, out)
    assert second.returncode == 0, second.stderr
    assert "finished earlier, skipped" in second.stderr
    assert len(json.loads((out / "timings.json").read_text())["splits"]["gender"]["invocations"]) == 1
