"""Benchmark and worked example: several AU models compared with `auditkit compare` (README "Benchmarking several
models").

The models are real: LeNet-5 models trained here with auditkit's own classifier on the synthetic default, on people
of Fitzpatrick types III-IV, who belong to neither skin-type group (types I-II and V-VI), so no model is tested on
a person it trained on. Each model's per-frame outputs on every subject are written in the file layout of one
public tool, as that tool writes it:

- OpenFace 2.0 FeatureExtraction: SUBJECT/SEQUENCE.csv, frames counted from 1, `success`/`confidence`, occurrence
  columns AUxx_c (0/1; OpenFace has no AU24 occurrence) and intensities AUxx_r;
- py-feat: SUBJECT/SEQUENCE.csv, frames from 0, `FaceScore`, probability columns AUxx;
- LibreFace: SUBJECT/SEQUENCE.csv, `frame_idx` from 0, detection columns au_N (0/1, BP4D's 12 AUs);

then audited with `auditkit audit-predictions --attr fitzpatrick` and compared with `auditkit compare`. The terminal
output goes to the README. Last, `auditkit compare` is timed on five audits (two more models, generic Parquet files):
wall time and peak memory of the command, median of three runs.

Run:  python benchmarks/bench_compare.py [--out audits/compare-example] [--update-readme]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replication import log  # noqa: E402
from readme_figures import README, replace_block  # noqa: E402

BENCH_README = Path(__file__).resolve().parent / "README.md"
OPENFACE_OCCURRENCE = {"AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15", "AU17",
                       "AU20", "AU23", "AU25", "AU26", "AU28", "AU45"}  # OpenFace 2.0's AUxx_c columns
LIBREFACE_AUS = {"AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"}


@dataclass(frozen=True)
class Model:
    """One model of the example: its label, the file layout its outputs take, how it is trained."""

    name: str
    layout: str  # openface, pyfeat, libreface or generic
    normalizer: str  # inputs: none or histeq
    train: int  # training subjects (plus 2 for validation), all of Fitzpatrick III-IV
    seed: int
    what: str


MODELS = [
    Model("openface-style", "openface", "none", 8, 0, "LeNet-5, 8 training people, raw faces"),
    Model("pyfeat-style", "pyfeat", "histeq", 8, 0, "LeNet-5, the same 8 people, histogram-equalized faces"),
    Model("libreface-style", "libreface", "none", 16, 0, "LeNet-5, 16 training people, raw faces"),
]
TIMING_EXTRA = [Model("lenet-4-people", "generic", "none", 4, 0, "LeNet-5, 4 training people"),
                Model("lenet-seed-1", "generic", "none", 8, 1, "LeNet-5, 8 training people, another seed")]


def train_and_predict(ds: object, model: Model, middle: list[str]) -> np.ndarray:
    """Train one LeNet-5 on Fitzpatrick III-IV people and return its probabilities for every frame of the dataset."""
    from auditkit.classifiers.lenet import INPUT_SIZE, LeNetClassifier
    from auditkit.plugins import make_normalizer
    from auditkit.protocol.config import AUDIT_PRESETS

    rng = np.random.default_rng(model.seed)
    people = list(rng.permutation(middle))
    train, val = people[:model.train], people[model.train:model.train + 2]
    subjects = ds.frames["subject"].to_numpy()
    faces = np.array(ds.faces)  # a private copy: the dataset is memory-mapped read-only
    if model.normalizer != "none":  # a per-image normalizer (no template, nothing to fit)
        norm = make_normalizer(model.normalizer).fit(faces[:0], {})
        for s in dict.fromkeys(subjects):
            faces[subjects == s] = norm.transform(s, faces[subjects == s])
    X = np.stack([cv2.resize(f, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_AREA) for f in faces])
    Y = ds.frames[ds.aus].to_numpy(np.int8)
    preset = AUDIT_PRESETS["default"]
    clf = LeNetClassifier(seed=model.seed, epochs=preset["epochs"], patience=preset["patience"], lr=preset["lr"],
                          balanced=preset["balanced"])
    tr, va = np.isin(subjects, train), np.isin(subjects, val)
    clf.fit(X[tr], Y[tr], X[va], Y[va])
    return clf.predict_proba(X)


def write_layout(ds: object, proba: np.ndarray, layout: str, root: Path) -> Path:
    """The model's outputs as the tool of `layout` writes them, one file per SUBJECT/SEQUENCE (generic: one file)."""
    shutil.rmtree(root, ignore_errors=True)
    frames = ds.frames.reset_index(drop=True)
    table = pd.DataFrame(proba, columns=ds.aus)
    if layout == "generic":
        root.mkdir(parents=True)
        out = pd.concat([frames[["subject", "sequence", "frame"]], table], axis=1)
        out.to_parquet(root / "predictions.parquet", index=False)
        return root / "predictions.parquet"
    for (subject, sequence), rows in frames.groupby(["subject", "sequence"], sort=True):
        p = table.loc[rows.index]
        position = rows["frame"].to_numpy() - rows["frame"].min()  # the tools count a video's frames themselves
        if layout == "openface":
            df = pd.DataFrame({"frame": position + 1, " face_id": 0, " timestamp": position / 25.0,
                               " confidence": 0.98, " success": 1})
            for au in ds.aus:
                if au in OPENFACE_OCCURRENCE:
                    df[f" {au}_r"] = (5 * p[au]).round(2).to_numpy()
            for au in ds.aus:
                if au in OPENFACE_OCCURRENCE:
                    df[f" {au}_c"] = (p[au] >= 0.5).astype(float).to_numpy()
        elif layout == "pyfeat":
            df = pd.DataFrame({"frame": position, "FaceScore": 0.99})
            for au in ds.aus:
                df[au] = p[au].round(4).to_numpy()
        else:  # libreface
            df = pd.DataFrame({"frame_idx": position})
            for au in ds.aus:
                if au in LIBREFACE_AUS:
                    df[f"au_{int(au[2:])}"] = (p[au] >= 0.5).astype(int).to_numpy()
        (root / str(subject)).mkdir(parents=True, exist_ok=True)
        df.to_csv(root / str(subject) / f"{sequence}.csv", index=False)
    return root


def auditkit(*args: str) -> str:
    """Run `auditkit ARGS` as a user would (80-column terminal); its stdout."""
    done = subprocess.run([sys.executable, "-m", "auditkit", *args], capture_output=True, text=True, check=False,
                          env={**os.environ, "COLUMNS": "80"})
    if done.returncode:
        raise SystemExit(f"auditkit {' '.join(args)} failed:\n{done.stderr}")
    return done.stdout


def timed_compare(audits: list[Path], out: Path, runs: int = 3) -> tuple[float, float]:
    """Median wall seconds and peak RSS (MiB) of `auditkit compare` on these audits (a fresh process each time)."""
    walls, peaks = [], []
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run([sys.executable, "-c", "import resource, subprocess, sys; "
                               "subprocess.run(sys.argv[1:], check=True, capture_output=True); "
                               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)",
                               sys.executable, "-m", "auditkit", "compare", *map(str, audits), "--out", str(out)],
                              capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - start)
        peaks.append(int(done.stdout.strip()) / 1024)
    return statistics.median(walls), max(peaks)


def main() -> None:
    """Train, write, audit, compare; then time compare on five audits; optionally update both READMEs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("audits/compare-example"))
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    from auditkit.data import load_dataset
    from auditkit.data.synth.default import ensure_default_dataset

    data = ensure_default_dataset()
    ds = load_dataset(data)
    fitz = ds.subjects.set_index("subject")["fitzpatrick"]
    middle = sorted(s for s in ds.subjects["subject"] if fitz[s] in (3, 4))
    args.out.mkdir(parents=True, exist_ok=True)
    audits = {}
    for model in MODELS + TIMING_EXTRA:
        log(f"{model.name}: training ({model.what})")
        start = time.perf_counter()
        proba = train_and_predict(ds, model, middle)
        files = write_layout(ds, proba, model.layout, args.out / "predictions" / model.name)
        audit = args.out / model.name
        # the generic file carries the dataset's own frame numbers, which a generic file cannot say: offset 0
        offset = ["--frame-offset", "0"] if model.layout == "generic" else []
        auditkit("audit-predictions", str(files), "--data", str(data), "--attr", "fitzpatrick", "--out", str(audit),
                 "--force", *offset)
        audits[model.name] = audit
        log(f"{model.name}: trained, written ({model.layout}) and audited in {time.perf_counter() - start:.0f} s")
    example = [audits[m.name] for m in MODELS]
    shown = f"auditkit compare {' '.join(str(a) for a in example)} --out {args.out / 'report'}"
    terminal = auditkit("compare", *map(str, example), "--out", str(args.out / "report"))
    print(terminal)
    wall, peak = timed_compare(list(audits.values()), args.out / "timing")
    cores = os.cpu_count()
    timing = (f"`auditkit compare` on five audit-predictions audits of the synthetic default (fitzpatrick, 31 people; "
              f"{len(audits)} models, 10 model pairs): **{wall:.1f} s** wall, median of 3 fresh processes (Python "
              f"start-up and imports included), peak memory {peak:.0f} MiB, on {cores} cores "
              f"(`python benchmarks/bench_compare.py`).\n")
    log(timing.strip())
    if args.update_readme:
        models = "\n".join(f"- `{m.name}`: {m.what}; outputs in the {m.layout} layout" for m in MODELS)
        body = (f"{models}\n\n```console\n$ {shown}\n{terminal.rstrip()}\n```\n\n{timing}")
        README.write_text(replace_block(README.read_text(), "compare-example", body))
        BENCH_README.write_text(replace_block(BENCH_README.read_text(), "compare-timing", timing))
        log(f"updated {README} and {BENCH_README}")


if __name__ == "__main__":
    main()
