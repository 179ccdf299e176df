"""Benchmark: wall time of a whole default audit (`auditkit gap`) on the synthetic default dataset.

Run: python benchmarks/bench_audit.py [--attr fitzpatrick] [--normalizer none] [--preset default] [--data DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from pathlib import Path

from auditkit.data.synth.generate import SynthConfig, generate
from auditkit.protocol.runner import AuditConfig, run_audit


def main() -> None:
    """Run one audit into a temporary directory and print wall time, trainings and seconds per training as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--attr", default="fitzpatrick")
    parser.add_argument("--normalizer", action="append", default=None)
    parser.add_argument("--preset", default="default")
    parser.add_argument("--data", default=None, help="dataset directory (default: generate the synthetic default)")
    parser.add_argument("--jobs", type=int, default=-1)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        data = args.data or str(generate(tmp / "synth", SynthConfig()))
        cfg = AuditConfig.from_preset(args.preset, data=data, attr=tuple(args.attr.split(",")),
                                      normalizers=tuple(args.normalizer or ["none"]))
        start = time.perf_counter()
        res = run_audit(cfg, tmp / "audit", jobs=args.jobs)
        wall = time.perf_counter() - start
        per_task = res.groupby(["normalizer", "task"])["seconds"].first()
        print(json.dumps({
            "benchmark": "audit", "attr": args.attr, "normalizers": list(cfg.normalizers), "preset": args.preset,
            "cpus": os.cpu_count(), "trainings": int(len(per_task)), "wall_s": round(wall, 1),
            "mean_s_per_training": round(float(per_task.mean()), 2), "result_rows": len(res),
            "peak_rss_main_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        }, indent=2))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
