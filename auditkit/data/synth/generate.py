"""Write the synthetic benchmark as a dataset directory, deterministically and in parallel."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from joblib import delayed

from auditkit import __version__
from auditkit.contract import DatasetSource
from auditkit.data.format import (
    FACES_FILE,
    FORMAT_VERSION,
    TRUTH_DIR,
    au_name,
    open_faces_for_writing,
    write_parquet,
    write_tables,
)
from auditkit.data.synth.aus import AUS, CODED_AUS, INTENSITY_AUS, OCCURRENCE_THRESHOLD
from auditkit.data.synth.capture import CAPTURES
from auditkit.data.synth.expression import TASKS, intensity_labels, sample_intensities, sample_light, sample_pose
from auditkit.data.synth.identity import Identity, bp4d_roster, disfa_roster, sample_identity
from auditkit.data.synth.render import FaceRenderer
from auditkit.errors import AuditkitError
from auditkit.process_state import parallel, shutdown_workers

RENDERER_VERSION = 1
AU_COLUMNS = [au_name(a) for a in AUS]
INTENSITY_COLUMNS = [f"{au_name(a)}_intensity" for a in sorted(set().union(*INTENSITY_AUS.values()))]


@dataclass(frozen=True)
class SynthConfig:
    """Settings of one synthetic dataset; equal configs give byte-identical files."""

    seed: int = 0
    frames_per_subject: int = 300
    size: int = 128
    bp4d_subjects: int | None = None  # None: the full 41; fewer keeps evenly spaced roster entries (small test sets)
    disfa_subjects: int | None = None  # None: the full 27


def _subset(people: list, n: int | None) -> list:
    if n is None or n >= len(people):
        return people
    return [people[int(i)] for i in np.linspace(0, len(people) - 1, n).round()] if n > 0 else []


def make_identities(cfg: SynthConfig) -> list[Identity]:
    """The roster of both sources with their faces drawn, in subject order."""
    roster_rng = np.random.default_rng([cfg.seed, 0])
    people = _subset(bp4d_roster(roster_rng), cfg.bp4d_subjects) + _subset(disfa_roster(roster_rng), cfg.disfa_subjects)
    return [
        sample_identity(np.random.default_rng([cfg.seed, 1, i]), p.subject, p.dataset, p.gender, p.fitzpatrick, p.age)
        for i, p in enumerate(people)
    ]


def split_frames(total: int, sequences: list[str]) -> list[int]:
    """Frames per sequence: as even as possible, earlier sequences take the remainder."""
    base, extra = divmod(total, len(sequences))
    return [base + (1 if i < extra else 0) for i in range(len(sequences))]


def _uncoded_mask(rng: np.random.Generator, n: int, source: str) -> np.ndarray:
    # BP4D leaves short stretches uncoded (its "9"); mark a few runs so readers must honour -1.
    mask = np.zeros(n, bool)
    if source == "bp4d-synth" and n >= 10 and rng.random() < 0.35:
        start = int(rng.integers(0, n - 4))
        mask[start : start + int(rng.integers(2, 6))] = True
    return mask


def simulate_subject(ident: Identity, index: int, cfg: SynthConfig) -> tuple[pd.DataFrame, pd.DataFrame, list]:
    """AU sequences, labels and per-frame render inputs of one subject (no pixels yet)."""
    rng = np.random.default_rng([cfg.seed, 2, index])
    source = ident.dataset
    capture = CAPTURES[source]
    tasks = TASKS[source]
    names = list(tasks)
    coded = set(CODED_AUS[source])
    with_intensity = set(INTENSITY_AUS[source])
    threshold = OCCURRENCE_THRESHOLD[source]
    label_rows, truth_rows, inputs = [], [], []
    for seq, n in zip(names, split_frames(cfg.frames_per_subject, names), strict=True):
        if n == 0:
            continue
        x = sample_intensities(rng, ident, tasks[seq], n)
        pose = sample_pose(rng, n, capture.pose_sd)
        light = sample_light(rng, n)
        uncoded = _uncoded_mask(rng, n, source)
        levels = intensity_labels(x)
        labels = pd.DataFrame({"subject": ident.subject, "sequence": seq, "frame": np.arange(1, n + 1)})
        for j, au in enumerate(AUS):
            occ = (levels[:, j] >= threshold).astype(np.int8)
            labels[au_name(au)] = np.where(uncoded, -1, occ) if au in coded else -1
        for col in INTENSITY_COLUMNS:
            au = int(col[2:4])
            labels[col] = np.where(uncoded, -1, levels[:, AUS.index(au)]) if au in with_intensity else -1
        truth = pd.DataFrame(x.astype(np.float32), columns=[f"{au_name(a)}_true" for a in AUS])
        truth.insert(0, "sequence", seq)
        truth.insert(0, "subject", ident.subject)
        truth.insert(2, "frame", labels["frame"].to_numpy())
        truth["yaw"], truth["pitch"], truth["roll"] = pose[:, 0], pose[:, 1], pose[:, 2]
        truth["light"] = light
        label_rows.append(labels)
        truth_rows.append(truth)
        inputs.append((x, pose, light))
    return pd.concat(label_rows, ignore_index=True), pd.concat(truth_rows, ignore_index=True), inputs


def _render_subject(ident: Identity, index: int, cfg: SynthConfig, faces_path: str,
                    offset: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    cv2.setNumThreads(1)  # one process per core already
    labels, truth, inputs = simulate_subject(ident, index, cfg)
    renderer = FaceRenderer(ident, CAPTURES[ident.dataset], cfg.size)
    noise_rng = np.random.default_rng([cfg.seed, 3, index])
    faces = np.load(faces_path, mmap_mode="r+")
    pos = offset
    for x, pose, light in inputs:
        frames = renderer.render(x, pose, light, noise_rng)
        faces[pos : pos + len(frames)] = frames
        pos += len(frames)
    faces.flush()
    del faces
    labels["face"] = np.arange(offset, pos, dtype=np.int64)
    return labels, truth


def subjects_table(identities: list[Identity]) -> pd.DataFrame:
    """subjects.parquet rows: id, source dataset and demographics."""
    return pd.DataFrame(
        {
            "subject": [i.subject for i in identities],
            "dataset": [i.dataset for i in identities],
            "gender": [i.gender for i in identities],
            "fitzpatrick": pd.array([i.fitzpatrick for i in identities], dtype="Int8"),
            "age": pd.array([i.age for i in identities], dtype="Int16"),
        }
    )


def dataset_meta(cfg: SynthConfig) -> dict:
    """dataset.json content for a synthetic dataset."""
    return {
        "format_version": FORMAT_VERSION,
        "image_size": [cfg.size, cfg.size],
        "aus": AU_COLUMNS,
        "provenance": {
            "generator": "auditkit.synth",
            "renderer_version": RENDERER_VERSION,
            "auditkit_version": __version__,
            "config": asdict(cfg),
        },
        "sources": {
            name: {
                "coded_aus": [au_name(a) for a in CODED_AUS[name]],
                "intensity_aus": [au_name(a) for a in INTENSITY_AUS[name]],
                "occurrence_threshold": OCCURRENCE_THRESHOLD[name],
                "capture": CAPTURES[name].to_dict(),
                "sequences": list(TASKS[name]),
            }
            for name in CAPTURES
        },
        "ground_truth": TRUTH_DIR,
    }


def generate(out: str | Path, cfg: SynthConfig = SynthConfig(), n_jobs: int = -1, force: bool = False,
             progress: Callable[[int, int], None] | None = None) -> Path:
    """Render the synthetic benchmark into `out`; the directory appears only once complete."""
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise AuditkitError(f"{out}: already exists and is not empty (pass --force to replace it)")
    if cfg.frames_per_subject < 1:
        raise AuditkitError(f"frames-per-subject: must be at least 1, got {cfg.frames_per_subject}")
    identities = make_identities(cfg)
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / TRUTH_DIR).mkdir(parents=True)
    total = cfg.frames_per_subject * len(identities)
    faces = open_faces_for_writing(tmp / FACES_FILE, total, cfg.size, cfg.size)
    del faces  # workers reopen it; the header is already on disk
    offsets = [i * cfg.frames_per_subject for i in range(len(identities))]
    args = [(ident, i, cfg, str(tmp / FACES_FILE), offsets[i]) for i, ident in enumerate(identities)]
    workers = (os.cpu_count() or 1) if n_jobs == -1 else max(1, n_jobs)
    if workers > 1:
        stream = parallel(workers, "generator")(delayed(_render_subject)(*a) for a in args)
    else:
        stream = (_render_subject(*a) for a in args)
    results: list = []
    for result in stream:
        results.append(result)
        if progress:
            progress(len(results), len(identities))
    if workers > 1:
        # the rendering workers' memory grew with the face file's pages; left running, joblib's leak check restarts
        # them at the next Parallel call (the audit's trainings) with a "worker stopped ... memory leak" warning
        shutdown_workers()
    labels = pd.concat([r[0] for r in results], ignore_index=True)
    truth = pd.concat([r[1] for r in results], ignore_index=True)
    front = ["subject", "sequence", "frame", "face"]
    labels = labels[front + [c for c in labels.columns if c not in front]]
    write_tables(tmp, subjects_table(identities), labels, dataset_meta(cfg))
    write_parquet(pd.DataFrame([i.to_row() for i in identities]), tmp / TRUTH_DIR / "identities.parquet")
    write_parquet(truth, tmp / TRUTH_DIR / "expressions.parquet")
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


class SyntheticSource(DatasetSource):
    """Dataset source plugin (`auditkit.datasets` entry point): builds the synthetic benchmark on demand."""

    name = "synthetic"

    def load(self, out: str | Path, root: str | Path | None = None, **options) -> Path:
        """Generate (or reuse) a synthetic dataset directory at `out` (SynthConfig options); there is nothing to
        read."""
        if root is not None:
            raise AuditkitError(
                f"synthetic data is generated, not ingested from {root}: use `auditkit synth --out DIR`"
            )
        out = Path(out)
        if (out / "dataset.json").exists():
            return out
        return generate(out, SynthConfig(**options))
