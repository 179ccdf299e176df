"""Benchmark: wall time of a whole audit (`auditkit gap`), optionally against an earlier revision in the same run.

With --compare REV the same audit also runs on the code of git revision REV (checked out in a temporary worktree,
imported ahead of the installed package), alternating with the current code so machine noise hits both alike, and
the script reports both wall times and how far the audit's scores moved between the two (per condition, in units of
the standard error of the mean over test subjects).

Run: python benchmarks/bench_audit.py [--attr fitzpatrick] [--normalizer none] [--preset default] [--data DIR]
                                      [--compare REV] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def run_gap(code: Path | None, data: str, out: Path, args: argparse.Namespace) -> float:
    """One `auditkit gap` in a fresh process on the given source tree (None: the installed package); wall seconds."""
    argv = ["gap", "--attr", args.attr, "--data", data, "--out", str(out), "--preset", args.preset,
            "--jobs", str(args.jobs), "--force"]
    for n in args.normalizer or []:
        argv += ["--normalizer", n]
    # -S skips site's .pth files, so the editable install's import hook cannot shadow the checked-out tree
    paths = [str(code or ROOT), sysconfig.get_paths()["purelib"]]
    script = (f"import sys, runpy; sys.path[:0] = {paths!r}; sys.argv = ['auditkit', *{argv!r}]; "
              "runpy.run_module('auditkit', run_name='__main__')")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"auditkit gap failed on {code or ROOT}:\n{proc.stderr[-2000:]}")
    return wall


def condition_scores(results: pd.DataFrame) -> pd.DataFrame:
    """Mean score (%) and its standard error over test subjects, per normalizer and condition."""
    from auditkit.stats.metrics import subject_scores

    subj = subject_scores(results, ["normalizer", "condition"])
    grouped = subj.groupby(["normalizer", "condition"])["score"]
    return pd.DataFrame({"mean": grouped.mean() * 100, "sem": grouped.sem() * 100})


def main() -> None:
    """Run the audit (and the comparison revision's), print wall times, trainings and score shifts as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attr", default="fitzpatrick")
    parser.add_argument("--normalizer", action="append", default=None)
    parser.add_argument("--preset", default="default")
    parser.add_argument(
        "--data", default=None, help="dataset directory (default: the synthetic default, rendered once)"
    )
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--compare", metavar="REV", default=None, help="git revision to time against")
    parser.add_argument("--rounds", type=int, default=1, help="timed runs per code version (the best is reported)")
    args = parser.parse_args()
    if args.data is None:
        from auditkit.data.synth.default import ensure_default_dataset

        args.data = str(ensure_default_dataset())
    tmp = Path(tempfile.mkdtemp())
    versions: dict[str, Path | None] = {"now": None}
    try:
        if args.compare:
            worktree = tmp / "compare"
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "-f", "-q", str(worktree), args.compare],
                           check=True)
            versions[args.compare] = worktree
        walls: dict[str, list[float]] = {name: [] for name in versions}
        for r in range(args.rounds):
            for name, code in versions.items():
                walls[name].append(run_gap(code, args.data, tmp / f"audit-{name}-{r}", args))
        report: dict = {"benchmark": "audit", "attr": args.attr, "normalizers": ["none", *(args.normalizer or [])],
                        "preset": args.preset, "cpus": os.cpu_count(), "jobs": args.jobs}
        scores, tables = {}, {}
        for name in versions:
            res = pd.read_parquet(tmp / f"audit-{name}-0" / "results.parquet")
            tables[name] = res.drop(columns="seconds")
            per_task = res.groupby(["normalizer", "task"])["seconds"].first()
            scores[name] = condition_scores(res)
            report[name] = {"wall_s": round(min(walls[name]), 1), "wall_s_all": [round(w, 1) for w in walls[name]],
                            "trainings": int(len(per_task)), "mean_s_per_training": round(float(per_task.mean()), 2),
                            "scores": {f"{n}/{c}": round(float(v), 2) for (n, c), v in scores[name]["mean"].items()}}
        if args.compare:
            now, before = scores["now"], scores[args.compare]
            shift = (now["mean"] - before["mean"]) / np.sqrt(now["sem"] ** 2 + before["sem"] ** 2)
            a, b = tables["now"], tables[args.compare]
            same_rows = a.shape == b.shape and a.drop(columns=["f1", "accuracy"]).equals(
                b.drop(columns=["f1", "accuracy"])
            )
            report["results_identical"] = bool(same_rows and a.equals(b))
            if same_rows:
                report["max_abs_metric_difference"] = float(max((a["f1"] - b["f1"]).abs().max(),
                                                                (a["accuracy"] - b["accuracy"]).abs().max()))
            report["speedup"] = round(min(walls[args.compare]) / min(walls["now"]), 2)
            report["score_shift_points"] = {f"{n}/{c}": round(float(v), 2)
                                            for (n, c), v in (now["mean"] - before["mean"]).items()}
            report["score_shift_in_standard_errors"] = {f"{n}/{c}": round(float(v), 2) for (n, c), v in shift.items()}
        report["peak_rss_children_mib"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
        print(json.dumps(report, indent=2))
    finally:
        if args.compare:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tmp / "compare")],
                           capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
