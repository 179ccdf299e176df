"""Streams units through face preprocessing into a dataset directory, one shard per unit, so a re-run resumes.

Layout while running: OUT.partial/ingest.json (what is being ingested) and OUT.partial/shards/<unit>.{npy,parquet}.
A shard's frames table is written last, so its presence means the unit is complete. When every unit is done the
shards are assembled in unit order into faces.npy and frames.parquet and OUT.partial is renamed to OUT; the bytes do
not depend on how many interruptions happened on the way, so the fingerprint is the same.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from joblib import delayed

from auditkit import __version__
from auditkit.data.format import (
    FACES_FILE,
    FORMAT_VERSION,
    SKIPPED_FILE,
    open_faces_for_writing,
    write_parquet,
    write_tables,
)
from auditkit.data.ingest.demographics import DemographicsJoin
from auditkit.data.ingest.units import Unit
from auditkit.data.preprocess import FacePreprocessor, PreprocessConfig
from auditkit.errors import AuditkitError
from auditkit.files import atomic_path
from auditkit.process_state import parallel

INGEST_VERSION = 1
STATE_FILE = "ingest.json"
SHARDS = "shards"


@dataclass
class IngestJob:
    """Everything one ingest needs: the source's units and metadata, the AU columns, and the options to record."""

    source: str  # the `dataset` value of every subject (bp4d, disfa)
    units: list[Unit]
    aus: list[str]
    source_meta: dict
    demographics: DemographicsJoin
    options: dict = field(default_factory=dict)
    preprocess: PreprocessConfig = PreprocessConfig()
    skip_unreadable: bool = False

    def state(self) -> dict:
        """What identifies this ingest; a partial directory is resumed only under an equal state."""
        return {"ingest_version": INGEST_VERSION, "source": self.source, "aus": self.aus, "options": self.options,
                "preprocess": asdict(self.preprocess), "units": [u.key for u in self.units],
                "opencv": cv2.__version__}


def _shard(shards: Path, unit: Unit, ext: str) -> Path:
    return shards / f"{unit.key}.{ext}"


def process_unit(unit: Unit, cfg: PreprocessConfig, shards: Path, skip_unreadable: bool) -> tuple[int, str | None]:
    """Crop every labelled frame of one unit into its shard; return (frames handled, error message or None)."""
    cv2.setNumThreads(1)  # parallelism is across units
    pre = FacePreprocessor(cfg)
    frames = unit.labels["frame"].tolist()
    crops: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[tuple[int, str]] = []
    try:
        for frame, img, path in unit.pixels.read(frames):
            if img is None:
                if not skip_unreadable:
                    return len(frames), (f"{path}: unreadable image (corrupt or not an image; "
                                         "--skip-unreadable records and skips it)")
                skipped.append((frame, "unreadable"))
                continue
            crop = pre(img)
            if crop is None:
                skipped.append((frame, "no_face"))
                continue
            crops.append(crop)
            kept.append(frame)
    except AuditkitError as exc:  # returned, not raised: worker processes should not pickle exception objects
        return len(frames), str(exc)
    faces = np.stack(crops) if crops else np.zeros((0, cfg.size, cfg.size), np.uint8)
    with atomic_path(_shard(shards, unit, "npy")) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, faces)
    skip = pd.DataFrame({"subject": unit.subject, "sequence": unit.sequence,
                         "frame": pd.array([f for f, _ in skipped], dtype="int32"),
                         "reason": pd.array([r for _, r in skipped], dtype="string")})
    with atomic_path(_shard(shards, unit, "skipped.parquet")) as tmp:
        write_parquet(skip, tmp)
    rows = unit.labels.set_index("frame").loc[kept].reset_index()
    rows.insert(0, "sequence", unit.sequence)
    rows.insert(0, "subject", unit.subject)
    with atomic_path(_shard(shards, unit, "parquet")) as tmp:
        write_parquet(rows, tmp)
    return len(frames), None


def _open_partial(tmp: Path, state: dict, force: bool) -> None:
    state_path = tmp / STATE_FILE
    if tmp.exists():
        try:
            old = json.loads(state_path.read_text())
        except (OSError, json.JSONDecodeError):
            old = None
        if old == state:
            return
        if not force:
            raise AuditkitError(f"{tmp}: an unfinished ingest with other inputs or options is here "
                                "(pass --force to discard it, or re-run with the same options to resume it)")
        shutil.rmtree(tmp)
    (tmp / SHARDS).mkdir(parents=True)
    state_path.write_text(json.dumps(state, indent=2, sort_keys=True) + "\n")


def _assemble(job: IngestJob, tmp: Path) -> dict:
    shards = tmp / SHARDS
    tables, skipped, sizes = [], [], []
    for unit in job.units:
        t = pd.read_parquet(_shard(shards, unit, "parquet"))
        tables.append(t)
        skipped.append(pd.read_parquet(_shard(shards, unit, "skipped.parquet")))
        sizes.append(len(t))
    frames = pd.concat(tables, ignore_index=True)
    frames.insert(3, "face", np.arange(len(frames), dtype=np.int64))
    size = job.preprocess.size
    faces = open_faces_for_writing(tmp / FACES_FILE, len(frames), size, size)
    pos = 0
    for unit, n in zip(job.units, sizes, strict=True):
        faces[pos : pos + n] = np.load(_shard(shards, unit, "npy"), mmap_mode="r")
        pos += n
    faces.flush()
    del faces
    skip = pd.concat(skipped, ignore_index=True)
    write_parquet(skip, tmp / SKIPPED_FILE)
    with_faces = set(frames["subject"])
    subjects = job.demographics.subjects
    no_frames = [s for s in subjects["subject"] if s not in with_faces]
    subjects = subjects[subjects["subject"].isin(with_faces)].reset_index(drop=True)
    reasons = skip["reason"].value_counts()
    no_face = skip.loc[skip["reason"] == "no_face", "subject"]
    stats = {
        "frames_labelled": int(sum(len(u.labels) for u in job.units)),
        "frames_kept": int(len(frames)),
        "no_face": int(reasons.get("no_face", 0)),
        "unreadable": int(reasons.get("unreadable", 0)),
        "no_face_by_subject": {str(k): int(v) for k, v in no_face.value_counts().sort_index().items()},
        "unlabelled_frames_skipped": int(sum(u.unlabelled for u in job.units)),
        "subjects_without_faces": no_frames,
        "demographics": job.demographics.report(),
        "skipped_frames_file": SKIPPED_FILE,
    }
    meta = {
        "format_version": FORMAT_VERSION,
        "image_size": [size, size],
        "aus": job.aus,
        "provenance": {"ingester": f"auditkit.ingest.{job.source}", "ingest_version": INGEST_VERSION,
                       "auditkit_version": __version__, "opencv": cv2.__version__, "options": job.options,
                       "preprocess": asdict(job.preprocess)},
        "sources": {job.source: job.source_meta},
        "ingest": stats,
    }
    write_tables(tmp, subjects, frames, meta)
    return stats


def run_ingest(job: IngestJob, out: str | Path, n_jobs: int = -1, force: bool = False,
               progress: Callable[[int, int], None] | None = None) -> dict:
    """Ingest `job` into `out` (resuming OUT.partial if present); return the counts recorded in dataset.json."""
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        if not force:
            raise AuditkitError(f"{out}: already exists and is not empty (pass --force to replace it)")
    if not job.units:
        raise AuditkitError(f"{job.source}: nothing to ingest (no labelled sequences found)")
    tmp = out.with_name(out.name + ".partial")
    _open_partial(tmp, job.state(), force)
    shards = tmp / SHARDS
    total = sum(len(u.labels) for u in job.units)
    todo = [u for u in job.units if not _shard(shards, u, "parquet").exists()]
    done = total - sum(len(u.labels) for u in todo)
    if progress:
        progress(done, total)
    workers = (os.cpu_count() or 1) if n_jobs == -1 else max(1, n_jobs)
    calls = (delayed(process_unit)(u, job.preprocess, shards, job.skip_unreadable) for u in todo)
    stream = parallel(workers, "generator")(calls) if workers > 1 and len(todo) > 1 else (
        process_unit(u, job.preprocess, shards, job.skip_unreadable) for u in todo)
    failed = None
    # stopping on an error cancels the workers' other units: joblib warns about that when the generator closes, but
    # the one-line error below already says why the ingest stopped (and a re-run resumes from the finished shards)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*tasks which were still being processed", category=UserWarning)
        try:
            for n, error in stream:
                if error:
                    failed = error
                    break
                done += n
                if progress:
                    progress(done, total)
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    if failed:
        raise AuditkitError(failed)
    stats = _assemble(job, tmp)
    shutil.rmtree(shards)
    (tmp / STATE_FILE).unlink()
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return stats
