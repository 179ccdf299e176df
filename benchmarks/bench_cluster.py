"""Benchmark: an audit on a Dask LocalCluster against the same audit with local processes; `auditkit plan` at BP4D size.

1. `auditkit gap --attr fitzpatrick` with `--jobs 2` and with `--cluster local:2`, alternately (fresh audit
   directories, dataset already rendered): wall times, the overhead ratio, and whether the results are identical.
2. `auditkit plan` for the paper's protocol (paper preset, per-subject DeepFN with the paper's 50K iterations) on a
   BP4D-sized dataset: 41 subjects x 3,560 frames (~146K), rendered at 32x32 since only its frame table matters.

Run: python benchmarks/bench_cluster.py [--rounds 2] [--update-readme]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
PLAN_ARGS = ["plan", "--attr", "fitzpatrick", "--preset", "paper", "--normalizer", "deepfn",
             "--normalizer-option", "deepfn.mode=per-subject", "--normalizer-option", "deepfn.preset=paper",
             "--normalizer-option", "deepfn.iterations=50000"]


def auditkit(args: list[str]) -> tuple[str, float]:
    """Run the CLI; its stdout and wall seconds (a failure stops the benchmark with its stderr)."""
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "auditkit", *args], capture_output=True, text=True,
                          env={**__import__("os").environ, "COLUMNS": "110"})
    if proc.returncode != 0:
        raise SystemExit(f"auditkit {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return proc.stdout, time.perf_counter() - start


def main() -> None:
    """Print the figures as JSON; with --update-readme write them into the README's cluster block."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    from auditkit.data.synth.default import ensure_default_dataset
    from auditkit.data.synth.generate import SynthConfig, generate

    data = str(ensure_default_dataset())
    walls: dict[str, list[float]] = {"jobs": [], "cluster": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for kind, extra in (("jobs", ["--jobs", "2"]), ("cluster", ["--cluster", "local:2"])):
                out = Path(tmp) / f"{kind}-{r}"
                walls[kind].append(auditkit(["gap", "--attr", "fitzpatrick", "--data", data, "--out", str(out),
                                             *extra])[1])
        a = pd.read_parquet(Path(tmp) / "jobs-0" / "results.parquet").drop(columns="seconds")
        b = pd.read_parquet(Path(tmp) / "cluster-0" / "results.parquet").drop(columns="seconds")
        identical = a.equals(b)
        bp4d = generate(Path(tmp) / "bp4d-sized", SynthConfig(frames_per_subject=3560, size=32, disfa_subjects=0))
        plan_out, _ = auditkit([*PLAN_ARGS, "--data", str(bp4d)])
    best = {k: min(v) for k, v in walls.items()}
    report = {"benchmark": "cluster", "audit": "gap --attr fitzpatrick (default preset, 20 trainings)",
              "wall_s": {k: [round(w, 1) for w in v] for k, v in walls.items()},
              "overhead_ratio": round(best["cluster"] / best["jobs"], 3), "results_identical": identical}
    print(json.dumps(report, indent=2))
    print(plan_out)
    if args.update_readme:
        readme = ROOT / "README.md"
        command = "auditkit " + " ".join(PLAN_ARGS) + " --data BP4D_SIZED"
        body = (f"`python benchmarks/bench_cluster.py --update-readme` on {os.cpu_count()} cores: the default "
                f"skin-type audit took "
                f"{best['jobs']:.1f} s with `--jobs 2` and {best['cluster']:.1f} s with `--cluster local:2` (best of "
                f"{args.rounds}; overhead ratio {report['overhead_ratio']:.2f}); results identical: "
                f"{'yes' if identical else 'NO'}.\n\nThe paper's protocol at BP4D's size (41 subjects, ~146K frames), "
                f"`{command}`:\n\n```\n{plan_out.rstrip()}\n```\n")
        text = re.sub(r"<!-- cluster:begin -->.*?<!-- cluster:end -->",
                      lambda _: f"<!-- cluster:begin -->\n{body}<!-- cluster:end -->", readme.read_text(), flags=re.S)
        readme.write_text(text)


if __name__ == "__main__":
    main()
