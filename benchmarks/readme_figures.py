"""Regenerate the figures the README quotes from real runs, so the front door never shows stale numbers.

1. Quick start: runs `auditkit gap --attr fitzpatrick` exactly as a new user does — on a fresh cache (it renders the
   synthetic default first) — measuring wall time and peak memory, and pastes its terminal summary and timing into
   the README's `quickstart` block.
2. DeepFN: copies the short Table 5 (fitzpatrick and gender rows of none, deepfn and oracle) from the replication
   benchmark's finished audits (`benchmarks/bench_replication.py`) into the README's `replication-short` block.
3. docs/report.png: the replication's fitzpatrick report (none, histeq, deepfn, oracle) in headless Chromium.
4. The DeepFN audit's wall time and memory on a fresh cache (its DeepFN fit included): the `deepfn-timing` block.
5. docs/report-smoke.png: the report of a smoke run (`auditkit gap --attr fitzpatrick --preset smoke --normalizer
   oracle`), to show what an underpowered run says about itself.

Run:  python benchmarks/readme_figures.py [--replication audits/replication] [--skip-quickstart]
Re-run it (and the replication benchmark) whenever results change.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def replace_block(text: str, name: str, body: str) -> str:
    """Replace what lies between <!-- name:begin --> and <!-- name:end --> (markers kept)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{README}: no {begin} ... {end} block")
    return pattern.sub(lambda _: f"{begin}\n{body}{end}", text)


def duration(seconds: float) -> str:
    """'55 s' under a minute, else '7 min 20 s'."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{rest} s" if minutes == 0 else f"{minutes} min {rest:02d} s"


def timed(args: list[str], out: Path) -> tuple[str, float, float]:
    """Run `auditkit ARGS --out OUT` on a fresh cache (dataset rendered, no DeepFN weights) into an emptied OUT
    (a previous run's results there would be resumed, not recomputed): stdout, wall s, peak RSS GiB."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    args = [*args, "--out", str(out)]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "AUDITKIT_CACHE": cache, "COLUMNS": "100"}
        cmd = [sys.executable, "-m", "auditkit", *args]
        print(f"running: auditkit {' '.join(args)} (fresh cache)", file=sys.stderr, flush=True)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"auditkit {' '.join(args)} failed")
    return stdout, wall, usage.ru_maxrss / 1024 / 1024


def deepfn_timing(out: Path) -> str:
    """The DeepFN audit a user runs first, timed on a fresh cache (its DeepFN fit included), as markdown."""
    _, wall, peak = timed(["gap", "--attr", "fitzpatrick", "--normalizer", "deepfn"], out)
    return (f"`auditkit gap --attr fitzpatrick --normalizer deepfn` on a fresh cache (rendering the dataset and fitting "
            f"DeepFN included): **{duration(wall)}** on 2 CPU cores, peak memory {peak:.1f} GiB "
            "(`python benchmarks/readme_figures.py`).\n")


def quickstart(out: Path) -> str:
    """Run the quick-start command on a fresh cache; its terminal summary and cost, as markdown."""
    stdout, wall, peak = timed(["gap", "--attr", "fitzpatrick"], out)
    summary = stdout.split("report:")[0].rstrip()
    summary = "\n".join(line.rstrip() for line in summary.splitlines())
    return (f"On 2 CPU cores this took **{duration(wall)}** in all, peak memory "
            f"{peak:.1f} GiB (`python benchmarks/readme_figures.py`, fresh cache: it includes "
            f"rendering the dataset). The terminal summary:\n\n```\n{summary}\n```\n")


def replication_short(audits: Path) -> str:
    """Fitzpatrick and gender rows (none, deepfn, oracle) of the replication benchmark, as a markdown table."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_replication import PAPER, _p, split_rows

    lines = ["| split | normalizer | within | cross | gap | p (reps) | share of the oracle's cross gain | paper within / cross |",
             "|---|---|---|---|---|---|---|---|"]
    for split in ("fitzpatrick", "gender"):
        for r in split_rows(split, audits / split):
            if r["normalizer"] not in ("none", "deepfn", "oracle"):
                continue
            share = {"none": "0 %", "oracle": "100 %"}.get(r["normalizer"], f"{100 * r['share_cross']:.0f} %")
            paper = PAPER[split].get(r["normalizer"])
            lines.append(f"| {split} | {r['normalizer']} | {100 * r['within']:.1f} | {100 * r['cross']:.1f} | "
                         f"{100 * r['gap']:+.1f} | {_p(r['p_repetitions'])} | {share} | "
                         f"{f'{paper[0]:.1f} / {paper[1]:.1f}' if paper else '—'} |")
    return "\n".join(lines) + "\n"


def screenshot(audit: Path, png: Path) -> None:
    """docs/report.png: the audit's report.html rendered by headless Chromium (rebuilt from its results first)."""
    import shutil

    from auditkit.report.render import build_report

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is needed for the screenshot (Debian: apt-get install chromium)")
    report = build_report(audit)
    with tempfile.TemporaryDirectory() as profile:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                 "--virtual-time-budget=15000", f"--user-data-dir={profile}", "--window-size=1200,3200"]
        subprocess.run([chromium, *flags, f"--screenshot={png}", report.as_uri()], capture_output=True, timeout=300,
                       check=True)
    print(f"wrote {png}", file=sys.stderr)


def smoke_report(out: Path) -> Path:
    """Run the smoke audit a new user tries first (resumable) and return its directory."""
    cmd = [sys.executable, "-m", "auditkit", "gap", "--attr", "fitzpatrick", "--preset", "smoke", "--normalizer",
           "oracle", "--out", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def main() -> None:
    """Regenerate the README's blocks."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replication", type=Path, default=ROOT / "audits" / "replication")
    parser.add_argument("--out", type=Path, default=ROOT / "audits" / "readme-quickstart")
    parser.add_argument("--skip-quickstart", action="store_true")
    parser.add_argument("--skip-deepfn-timing", action="store_true")
    parser.add_argument("--skip-smoke", action="store_true")
    args = parser.parse_args()
    text = README.read_text()
    if not args.skip_quickstart:
        text = replace_block(text, "quickstart", quickstart(args.out))
        README.write_text(text)
    if not args.skip_deepfn_timing:
        text = replace_block(text, "deepfn-timing", deepfn_timing(args.out.with_name("readme-deepfn")))
        README.write_text(text)
    text = replace_block(text, "replication-short", replication_short(args.replication))
    README.write_text(text)
    screenshot(args.replication / "fitzpatrick", ROOT / "docs" / "report.png")
    if not args.skip_smoke:
        screenshot(smoke_report(args.out.with_name("readme-smoke")), ROOT / "docs" / "report-smoke.png")
    print(f"updated {README}", file=sys.stderr)


if __name__ == "__main__":
    main()
