"""Benchmark: how often each packaged face detector misses a face, by expression intensity and by skin type.

Renders camera frames the way the BP4D look-alike tree does (synthetic people of every skin type, spontaneous-task
expressions, head pose and light; the face pasted on a noisy 640x480 background, JPEG-free) and runs ingest's
FacePreprocessor detection with each detector. Every frame holds exactly one face, so each "no face" is a miss.
Expression intensity = the sum of the frame's AU intensity levels (0-5 per AU).

Run: python benchmarks/bench_detectors.py [--subjects 24] [--frames 80] [--update-readme]
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.data.preprocess import DETECTORS, FacePreprocessor, PreprocessConfig
from auditkit.data.synth.capture import CAPTURES
from auditkit.data.synth.official import TASKS, TreeConfig, _frames, _people
from auditkit.data.synth.render import FaceRenderer

BINS = [-1, 2, 6, 12, 100]
BIN_NAMES = ["neutral (0-2)", "mild (3-6)", "marked (7-12)", "strong (13+)"]


def frames(subjects: int, per_subject: int) -> pd.DataFrame:
    """One row per rendered camera frame: subject, skin type, expression intensity, and the BGR image."""
    cfg = TreeConfig(subjects=subjects)
    rows = []
    tasks = list(TASKS["bp4d-synth"])
    for index, ident in enumerate(_people(cfg, "bp4d-synth")):
        renderer = FaceRenderer(ident, CAPTURES["bp4d-synth"], cfg.face)
        rng = np.random.default_rng([7, index])
        levels, scenes = _frames(ident, "bp4d-synth", tasks[index % len(tasks)], per_subject, cfg, rng, renderer)
        for lv, scene in zip(levels, scenes, strict=True):
            rows.append({"subject": ident.subject, "fitzpatrick": ident.fitzpatrick,
                         "intensity": int(np.asarray(lv, dtype=int).sum()), "image": scene})
    return pd.DataFrame(rows)


def main() -> None:
    """Print miss rates per detector, intensity bin and skin group as JSON (and markdown with --update-readme)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subjects", type=int, default=24)
    parser.add_argument("--frames", type=int, default=80)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    data = frames(args.subjects, args.frames)
    data["level"] = pd.cut(data["intensity"], BINS, labels=BIN_NAMES)
    data["skin"] = pd.cut(data["fitzpatrick"], [0, 2, 4, 6], labels=["I-II", "III-IV", "V-VI"])
    report: dict = {"benchmark": "detectors", "frames": len(data), "subjects": args.subjects}
    for name in DETECTORS:
        detector = FacePreprocessor(PreprocessConfig(detector=name, align=False))
        start = time.perf_counter()
        found = np.array([detector.detect(np.ascontiguousarray(img[:, :, 0])) is not None for img in data["image"]])
        ms = 1000 * (time.perf_counter() - start) / len(data)
        data[name] = ~found
        report[name] = {"miss_rate": round(float(data[name].mean()), 3), "ms_per_frame": round(ms, 1),
                        "by_intensity": {str(k): round(float(v), 3)
                                         for k, v in data.groupby("level", observed=True)[name].mean().items()},
                        "by_skin": {str(k): round(float(v), 3)
                                    for k, v in data.groupby("skin", observed=True)[name].mean().items()}}
    print(json.dumps(report, indent=2))
    if args.update_readme:
        counts = data.groupby("level", observed=True).size()
        lines = [f"`python benchmarks/bench_detectors.py --update-readme`: {len(data)} camera frames of "
                 f"{args.subjects} synthetic people (one face each), share of frames where no face was found:", "",
                 "| detector | all | " + " | ".join(f"{b} (n={counts.get(b, 0)})" for b in BIN_NAMES if b in counts)
                 + " | skin I-II | III-IV | V-VI | ms/frame |",
                 "|---|---|" + "---|" * (len(counts) + 4)]
        for name in DETECTORS:
            r = report[name]
            lines.append(
                f"| {name} | {100 * r['miss_rate']:.1f} % | "
                + " | ".join(f"{100 * r['by_intensity'][b]:.1f} %" for b in BIN_NAMES if b in r["by_intensity"])
                + " | "
                + " | ".join(f"{100 * r['by_skin'].get(s, float('nan')):.1f} %" for s in ("I-II", "III-IV", "V-VI"))
                + f" | {r['ms_per_frame']} |"
            )
        readme = Path(__file__).resolve().parent / "README.md"
        body = "\n".join(lines) + "\n"
        text = re.sub(
            r"<!-- detectors:begin -->.*?<!-- detectors:end -->",
            lambda _: f"<!-- detectors:begin -->\n{body}<!-- detectors:end -->",
            readme.read_text(),
            flags=re.S,
        )
        readme.write_text(text)


if __name__ == "__main__":
    main()
