"""Benchmark: why person-dependent models lose to person-independent ones on the synthetic default, by experiment.

The paper's person-dependent models (BP4D: about 3,500 coded frames per person, 8 tasks) beat person-independent ones
by 5.3 points. The synthetic default renders 300 frames per person (about 37 per task sequence), so a
person-dependent model here trains on about 185 frames of 5 sequences. This script renders BP4D-like-only datasets
with more frames per person (same people, same seed) and runs the real person audit on each, to see whether the
per-person data size is what reverses the split.

Run:  python benchmarks/bench_person_split.py [--frames 300,1000,2000] [--out audits/person-split] [--update-readme]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replication import README, log  # noqa: E402  (benchmarks/README.md)
from readme_figures import replace_block  # noqa: E402


def dataset(frames: int, root: Path) -> Path:
    """BP4D-like subjects only (the person split's scope), `frames` frames each; rendered once."""
    from auditkit.data.synth.generate import SynthConfig, generate

    out = root / f"bp4d-{frames}"
    if not (out / "dataset.json").is_file():
        log(f"rendering {frames} frames per person into {out}")
        generate(out, SynthConfig(frames_per_subject=frames, disfa_subjects=0))
    return out


def audit(data: Path, out: Path, normalizers: list[str]) -> float:
    """The real `auditkit gap --attr person` (resumable); its wall seconds."""
    cmd = [sys.executable, "-m", "auditkit", "gap", "--attr", "person", "--data", str(data), "--out", str(out)]
    cmd += [a for n in normalizers for a in ("--normalizer", n)]
    log(" ".join(cmd[2:]))
    start = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "terminal.txt", "w") as terminal:
        subprocess.run(cmd, stdout=terminal, check=True)
    return time.perf_counter() - start


def figures(out: Path) -> list[dict]:
    """Per normalizer: dependent (within) and independent (cross) score, the gap, its subject-test p."""
    from auditkit.report.render import load_run
    from auditkit.report.tables import audit_tables, condition_means, headline

    results, run = load_run(out)
    tables = audit_tables(results, int(run["config"]["seed"]))
    means = condition_means(tables.conditions)
    rows = []
    for norm in run["config"]["normalizers"]:
        overall = headline(tables, norm).set_index("test_group").loc["all"]
        rows.append({"normalizer": norm, "dependent": 100 * means.loc[norm, "within"],
                     "independent": 100 * means.loc[norm, "cross"], "gap": 100 * overall["gap"], "p": overall["p"]})
    return rows


def main() -> None:
    """Render, audit and tabulate each frames-per-person setting."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", default="300,1000,2000")
    parser.add_argument("--normalizers", default="", help="comma list beside none (e.g. oracle)")
    parser.add_argument("--data", type=Path, default=Path("data/person-split"))
    parser.add_argument("--out", type=Path, default=Path("audits/person-split"))
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    norms = [n for n in args.normalizers.split(",") if n]
    lines = ["| frames per person | normalizer | person-dependent | person-independent | gap | p (subjects) |",
             "|---|---|---|---|---|---|"]
    for frames in (int(f) for f in args.frames.split(",")):
        data = dataset(frames, args.data)
        wall = audit(data, args.out / f"f{frames}", norms)  # a resumed, finished audit takes seconds
        log(f"{frames} frames per person: {wall:.0f} s")
        for r in figures(args.out / f"f{frames}"):
            p = "< 0.001" if r["p"] < 0.001 else f"{r['p']:.3f}"
            lines.append(f"| {frames} | {r['normalizer']} | {r['dependent']:.1f} | {r['independent']:.1f} | "
                         f"{r['gap']:+.1f} | {p} |")
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.update_readme:
        command = f"python benchmarks/bench_person_split.py --frames {args.frames} ({os.cpu_count()} CPU cores)"
        README.write_text(replace_block(README.read_text(), "person-split", f"`{command}`\n\n{text}"))


if __name__ == "__main__":
    main()
