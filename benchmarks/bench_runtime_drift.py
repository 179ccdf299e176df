"""Benchmark: how much an audit's numbers move between machines and classifier runtimes.

The same audit (same code, data and seed) is run on LeNet-5's C kernels built for this CPU (-march=native), on the
kernels built for another instruction set (AUDITKIT_MARCH=x86-64-v3: AVX2, no AVX-512, as many cloud machines), and
on LeNet-5's PyTorch layers (AUDITKIT_NATIVE=0, what a machine without a C compiler runs). They differ only in float
rounding, which training carries into different models; this script measures what that does to the published
numbers: the gap, within/cross, the darker - lighter difference, next to their 95% confidence intervals.

Each run starts afresh (OUT is emptied first), so the wall times are whole audits, never resumes.

Run:  python benchmarks/bench_runtime_drift.py [--attr fitzpatrick] [--out audits/drift] [--update-readme]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replication import log  # noqa: E402
from readme_figures import README, replace_block  # noqa: E402

VARIANTS = {  # name -> environment for the run
    "C kernels, -march=native": {},
    "C kernels, -march=x86-64-v3": {"AUDITKIT_MARCH": "x86-64-v3"},
    "PyTorch layers": {"AUDITKIT_NATIVE": "0"},
}


def run_variant(name: str, env: dict, attr: str, out: Path) -> float:
    """One `auditkit gap` run (or resume) under `env`; its wall seconds."""
    cmd = [sys.executable, "-m", "auditkit", "gap", "--attr", attr, "--out", str(out)]
    log(f"{name}: {' '.join(f'{k}={v}' for k, v in env.items())} auditkit gap --attr {attr} --out {out}")
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "terminal.txt", "w") as terminal:
        subprocess.run(cmd, stdout=terminal, env={**os.environ, **env}, check=True)
    return time.perf_counter() - start


def figures(audit: Path) -> dict:
    """The published numbers of one audit (points): gap with CI, within, cross, first pair's difference with CI."""
    from auditkit.report.render import load_run
    from auditkit.report.tables import audit_tables, condition_means, headline

    results, run = load_run(audit)
    tables = audit_tables(results, int(run["config"]["seed"]))
    overall = headline(tables, "none").set_index("test_group").loc["all"]
    means = condition_means(tables.conditions).loc["none"]
    pair = tables.disparity_summary.query("normalizer == 'none' and au == @ALL_AUS").iloc[0]
    return {"gap": 100 * overall["gap"], "gap_ci": 100 * (overall["ci_high"] - overall["ci_low"]) / 2,
            "within": 100 * means["within"], "cross": 100 * means["cross"], "comparison": pair["comparison"],
            "difference": 100 * pair["difference"],
            "difference_ci": 100 * (pair["difference_ci_high"] - pair["difference_ci_low"]) / 2,
            "runtime": sorted(set(results["classifier_runtime"].dropna())),
            "environments": results["environment"].nunique()}


def table(rows: dict[str, dict], seconds: dict[str, float]) -> str:
    """The markdown table and the largest movements against the first variant."""
    first = next(iter(rows.values()))
    lines = [f"| runtime | gap [± 95% CI half-width] | within | cross | {first['comparison']} [± CI half-width] | "
             "wall |", "|---|---|---|---|---|---|"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['gap']:+.1f} [± {r['gap_ci']:.1f}] | {r['within']:.1f} | {r['cross']:.1f} | "
                     f"{r['difference']:+.1f} [± {r['difference_ci']:.1f}] | {seconds[name]:.0f} s |")
    moves = {k: max(abs(r[k] - first[k]) for r in rows.values()) for k in ("gap", "within", "cross", "difference")}
    half = min(min(r["gap_ci"], r["difference_ci"]) for r in rows.values())
    lines += ["", f"Largest movement against the first row: gap {moves['gap']:.1f}, within {moves['within']:.1f}, "
              f"cross {moves['cross']:.1f}, difference {moves['difference']:.1f} points; the narrowest 95% CI "
              f"half-width above is {half:.1f} points."]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Run (or resume) the audit under every variant, print and store the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attr", default="fitzpatrick")
    parser.add_argument("--out", type=Path, default=Path("audits/drift"))
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)  # whole audits, so that the wall column is comparable
    rows, seconds = {}, {}
    for i, (name, env) in enumerate(VARIANTS.items()):
        seconds[name] = run_variant(name, env, args.attr, args.out / f"v{i}")
        rows[name] = figures(args.out / f"v{i}")
    text = table(rows, seconds)
    command = f"python benchmarks/bench_runtime_drift.py --attr {args.attr} ({os.cpu_count()} CPU cores)"
    print(text)
    if args.update_readme:
        README.write_text(replace_block(README.read_text(), "runtime-drift", f"`{command}`\n\n{text}"))


if __name__ == "__main__":
    main()
