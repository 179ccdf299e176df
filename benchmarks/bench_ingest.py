"""Benchmark: ingestion throughput (frames/s) and peak memory on a realistic-size look-alike tree.

Default: BP4D layout, 10 subjects x 8 tasks x 250 coded frames = 20,000 JPEGs of 640x480 (plus 2 uncoded images
per task), face crops aligned to 128x128. `--layout disfa` writes 10 videos of 2,000 frames instead.

Run: python benchmarks/bench_ingest.py [--layout bp4d|disfa] [--subjects 10] [--frames 2000] [--jobs -1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

from auditkit import __version__
from auditkit.data import load_dataset
from auditkit.data.ingest import build_job, run_ingest
from auditkit.data.synth.official import TreeConfig, write_bp4d_tree, write_disfa_tree


def peak_rss_mib(who: int) -> float:
    """Peak resident memory (MiB) of this process (RUSAGE_SELF) or of its largest finished child (RUSAGE_CHILDREN)."""
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    """Write the tree, ingest it, and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--layout", choices=("bp4d", "disfa"), default="bp4d")
    parser.add_argument("--subjects", type=int, default=10)
    parser.add_argument("--frames", type=int, default=2000, help="coded frames per subject")
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--keep", type=Path, default=None, help="keep the tree and dataset here (re-uses a tree)")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    tree, out = base / f"{args.layout}-tree", base / f"{args.layout}-data"
    tasks = 8 if args.layout == "bp4d" else 1
    cfg = TreeConfig(subjects=args.subjects, frames=args.frames // tasks, tasks=tasks, width=640, height=480, face=200)
    start = time.perf_counter()
    if not (tree / "demographics.csv").exists():
        writer = write_bp4d_tree if args.layout == "bp4d" else write_disfa_tree
        writer(tree, cfg).to_csv(tree / "demographics.csv", index=False)
    tree_s = time.perf_counter() - start
    tree_mib = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file()) / 2**20
    if out.exists():
        shutil.rmtree(out)
    start = time.perf_counter()
    job = build_job(args.layout, tree, tree / "demographics.csv")
    discover_s = time.perf_counter() - start
    stats = run_ingest(job, out, n_jobs=args.jobs)
    wall = time.perf_counter() - start
    ds = load_dataset(out)
    print(json.dumps({
        "benchmark": f"ingest-{args.layout}",
        "auditkit": __version__,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "jobs": args.jobs,
        "frames_labelled": stats["frames_labelled"],
        "frames_kept": stats["frames_kept"],
        "no_face": stats["no_face"],
        "tree_write_s": round(tree_s, 1),
        "tree_mib": round(tree_mib, 1),
        "discover_s": round(discover_s, 2),
        "ingest_wall_s": round(wall, 1),
        "frames_per_s": round(stats["frames_labelled"] / wall, 1),
        "peak_rss_main_mib": round(peak_rss_mib(resource.RUSAGE_SELF), 1),
        "peak_rss_worker_mib": round(peak_rss_mib(resource.RUSAGE_CHILDREN), 1),
        "fingerprint": ds.fingerprint,
    }, indent=2))
    if args.keep is None:
        shutil.rmtree(base)


if __name__ == "__main__":
    main()
