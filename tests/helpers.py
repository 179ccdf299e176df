"""Builders several test modules share: predictions files in each tool's format, small model files, rendered faces,
simulated audit rows and the command-line runner (fixtures live in conftest.py; these are plain functions)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from auditkit.data.synth.aus import AUS
from auditkit.data.synth.capture import CAPTURES
from auditkit.data.synth.generate import SynthConfig, make_identities
from auditkit.data.synth.render import FaceRenderer
from auditkit.stats.metrics import per_subject_au

AUS12 = ["AU01", "AU02", "AU04", "AU06", "AU07", "AU10", "AU12", "AU14", "AU15", "AU17", "AU23", "AU24"]


def probabilities(frames: pd.DataFrame, noise: float, seed: int) -> np.ndarray:
    """Good predictions (labels blurred by `noise`): the model is right more often when noise is low."""
    rng = np.random.default_rng(seed)
    labels = frames[AUS12].to_numpy().clip(0, 1).astype(float)
    flip = rng.random(labels.shape) < noise
    return np.where(flip, 1 - labels, labels) * 0.8 + 0.1


def write_openface(ds, root: Path, noise: float = 0.1, nested: bool = False) -> Path:
    """OpenFace 2.0 FeatureExtraction CSVs (leading-space headers), one per SUBJECT/SEQUENCE.csv (`nested`:
    SUBJECT/SUBJECT_SEQUENCE.csv, as OpenFace's batch scripts lay out one folder per person)."""
    for (subject, sequence), grp in ds.frames.groupby(["subject", "sequence"]):
        p = probabilities(grp, noise, len(grp))
        table = {"frame": grp["frame"].to_numpy(), " face_id": 0, " timestamp": grp["frame"].to_numpy() / 25,
                 " confidence": 0.98, " success": 1}
        for k, au in enumerate(AUS12):
            table[f" {au}_r"] = p[:, k] * 5
        for k, au in enumerate(AUS12):
            table[f" {au}_c"] = (p[:, k] >= 0.5).astype(float)
        df = pd.DataFrame(table)
        df.loc[df.index[0], " success"] = 0  # a frame where OpenFace found no face
        (root / subject).mkdir(parents=True, exist_ok=True)
        df.to_csv(root / subject / (f"{subject}_{sequence}.csv" if nested else f"{sequence}.csv"), index=False)
    return root


def write_generic(ds, path: Path, noise_by_gender: dict[str, float]) -> Path:
    """A generic predictions Parquet file for every frame of `ds`, noisier for one gender if asked."""
    gender = ds.subjects.set_index("subject")["gender"]
    parts = []
    for subject, grp in ds.frames.groupby("subject"):
        p = probabilities(grp, noise_by_gender[gender[subject]], len(grp))
        part = grp[["subject", "sequence", "frame"]].copy()
        part[AUS12] = p
        parts.append(part)
    pd.concat(parts).to_parquet(path, index=False)
    return path


PRETRAINED_AUS = ["AU01", "AU06", "AU12"]


class Brightness(torch.nn.Module):
    """Logit per AU from mean brightness of a band of rows: brows, cheeks, mouth (a weak but real AU cue)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.shape[2]
        bands = [x[:, :, h // 5 : 2 * h // 5], x[:, :, 2 * h // 5 : 3 * h // 5], x[:, :, 3 * h // 5 : 4 * h // 5]]
        return torch.stack([(b.mean(dim=(1, 2, 3)) - 0.45) * 8.0 for b in bands], dim=1)


def torchscript_model(tmp: Path, output: str = "logits", aus: list[str] = PRETRAINED_AUS) -> Path:
    """A TorchScript model file (Brightness) with its card, in `tmp`."""
    path = tmp / "model.pt"
    torch.jit.script(Brightness()).save(str(path))
    path.with_suffix(".json").write_text(json.dumps({"aus": aus, "input_size": 64, "output": output}))
    return path


DEEPFN_TINY = {"iterations": 12, "batch_size": 8, "checkpoint_every": 4}


def deepfn_faces(seed: int, n: int = 16) -> np.ndarray:
    """n rendered faces of one synthetic person (identity `seed`) with random expressions."""
    ident = make_identities(SynthConfig(seed=seed, bp4d_subjects=1, disfa_subjects=0))[0]
    rng = np.random.default_rng(seed)
    intensities = rng.uniform(0, 4, (n, len(AUS))) * (rng.random((n, len(AUS))) < 0.3)
    return FaceRenderer(ident, CAPTURES[ident.dataset]).render(intensities)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """`auditkit ARGS` run in this process through the console entry point (`auditkit.cli.main`, what
    `python -m auditkit` runs), its exit status and output captured as a subprocess's would be. In process, a test
    skips the interpreter start and the torch import each command would pay (seconds per call); tests whose point is a
    process of its own (a kill, an installed package, a terminal's COLUMNS, `python -m auditkit` itself) start one."""
    import contextlib
    import io

    from auditkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv = sys.argv
    sys.argv = ["auditkit", *args]
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main()
                code = 0
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv = argv
    return subprocess.CompletedProcess(["auditkit", *args], code, out.getvalue(), err.getvalue())


def one_line(res: subprocess.CompletedProcess) -> str:
    """The only line a refused command printed (exit 2, no traceback)."""
    assert res.returncode == 2 and "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


def simulated_rates(rng: np.random.Generator, subjects: int = 24, frames: int = 120, aus: int = 3,
                    prevalence: tuple[float, float] = (0.25, 0.25), tpr_effect: float = 0.0) -> pd.DataFrame:
    """results rows of a tool with per-subject hit and false-alarm rates independent of a coin group, except
    `tpr_effect` on heads' hit rate; each group shows AUs at its own `prevalence` (heads, tails)."""
    coin = rng.permutation(np.arange(subjects) % 2)
    names = [f"s{i:02d}" for i in range(subjects)]
    Y, P, who = [], [], []
    for name, heads in zip(names, coin, strict=False):
        y = (rng.random((frames, aus)) < prevalence[0 if heads else 1]).astype(int)
        tpr = np.clip(rng.normal(0.7, 0.08) + tpr_effect * heads, 0.05, 0.99)
        fpr = np.clip(rng.normal(0.12, 0.03), 0.01, 0.9)
        hit = rng.random((frames, aus)) < np.where(y == 1, tpr, fpr)
        Y.append(y)
        P.append(hit.astype(float))
        who += [name] * frames
    rows = per_subject_au(np.vstack(Y), np.vstack(P), np.array(who), [f"AU{k:02d}" for k in range(aus)])
    group = dict(zip(names, np.where(coin == 1, "heads", "tails"), strict=False))
    return rows.assign(normalizer="none", condition="test-only", repetition=0, test_group=rows["subject"].map(group))


LINK = '<a href="https://example.org/">click</a>'


def all_au_difference(results: pd.DataFrame) -> dict:
    """The between-group row `disparities(results)` reports for the all-AU score, from the one statistic it runs
    (`pairwise` on the subject-by-repetition cells), without the per-group MetricFrame tables: simulation loops that
    only read the test call this, and check it against `disparities` once."""
    from auditkit.stats.disparities import ALL_AUS, fixed_model, pairwise, subject_metrics

    cells = subject_metrics(results, by_repetition=True)
    return pairwise(cells[cells["au"] == ALL_AUS], fixed=fixed_model(results))[0]


def findings_results(reps: int = 6, seed: int = 0, subjects: int = 8) -> pd.DataFrame:
    """A gap audit where `norm` closes the within/cross gap but lowers every `dark` test subject by 8 points."""
    rng = np.random.default_rng(seed)
    pools = {"dark": [f"D{i}" for i in range(subjects)], "light": [f"L{i}" for i in range(subjects)]}
    rows = []
    for norm in ("none", "norm"):
        for rep in range(reps):
            for train in pools:
                for test, members in pools.items():
                    for s in members:
                        within = train == test
                        value = 0.6 if within else (0.5 if norm == "none" else 0.59)
                        value -= 0.08 if (norm == "norm" and test == "dark") else 0.0
                        for au in ("AU06", "AU12"):
                            v = float(np.clip(value + rng.normal(0, 0.02), 0, 1))
                            rows.append(
                                {
                                    "normalizer": norm,
                                    "repetition": rep,
                                    "condition": "within" if within else "cross",
                                    "train_group": train,
                                    "test_group": test,
                                    "subject": s,
                                    "au": au,
                                    "f1": v,
                                    "accuracy": v,
                                    "support": 30,
                                    "positives": 6,
                                }
                            )
    return pd.DataFrame(rows)


def summary_tables(node: object, path: str = "") -> list[tuple[str, list[dict]]]:
    """Every list of row dicts in a summary.json, with its path ("a.b")."""
    if isinstance(node, list) and node and all(isinstance(r, dict) for r in node):
        return [(path, node)]
    if isinstance(node, dict):
        return [t for k, v in node.items() for t in summary_tables(v, f"{path}.{k}" if path else k)]
    return []
