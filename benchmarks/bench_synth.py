"""Benchmark: synthetic dataset rendering throughput (frames/s) and peak memory.

Run: python benchmarks/bench_synth.py [--frames-per-subject 300] [--jobs -1]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

from auditkit import __version__
from auditkit.data.synth.generate import SynthConfig, generate


def peak_rss_mib() -> float:
    """Peak resident memory of the main process, MiB (joblib workers are still alive, so not counted here)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Render the default synthetic benchmark into a temporary directory and print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames-per-subject", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = SynthConfig(seed=args.seed, frames_per_subject=args.frames_per_subject)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = generate(Path(tmp) / "synth", cfg, n_jobs=args.jobs)
        wall = time.perf_counter() - start
        n = 68 * cfg.frames_per_subject
        size_mib = sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2**20
    print(json.dumps({
        "benchmark": "synth",
        "auditkit": __version__,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "frames": n,
        "wall_s": round(wall, 2),
        "frames_per_s": round(n / wall, 1),
        "dataset_mib": round(size_mib, 1),
        "peak_rss_main_mib": round(peak_rss_mib(), 1),
    }, indent=2))


if __name__ == "__main__":
    main()
