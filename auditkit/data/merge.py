"""Join several dataset directories into one, e.g. ingested BP4D and DISFA for the cross-dataset audit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit import __version__
from auditkit.data.dataset import Dataset, load_dataset
from auditkit.data.format import (
    FACES_FILE,
    FORMAT_VERSION,
    INTENSITY_COLUMN,
    META_FILE,
    open_faces_for_writing,
    write_tables,
)
from auditkit.errors import AuditkitError


def _check_compatible(parts: list[Dataset]) -> None:
    sizes = {p.image_size for p in parts}
    if len(sizes) > 1:
        raise AuditkitError(f"merge: image sizes differ ({', '.join(f'{p.root}: {p.image_size}' for p in parts)}); "
                            "re-ingest with the same --size")
    seen: dict[str, Path] = {}
    for p in parts:
        for s in p.subjects["subject"]:
            if s in seen:
                raise AuditkitError(f"{p.root / 'subjects.parquet'}: subject: {s!r} is also in {seen[s]}")
            seen[s] = p.root
    sources: dict[str, Path] = {}
    for p in parts:
        for name in p.meta.get("sources", {}):
            if name in sources:
                raise AuditkitError(f"{p.root / META_FILE}: sources: {name!r} is also a source of {sources[name]}")
            sources[name] = p.root


def merge_datasets(inputs: list[str | Path], out: str | Path, force: bool = False) -> Path:
    """Write the union of `inputs` to `out`: AUs a part does not code become -1 there; faces are concatenated."""
    if len(inputs) < 2:
        raise AuditkitError("merge: give at least two dataset directories")
    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise AuditkitError(f"{out}: already exists and is not empty (pass --force to replace it)")
    parts = [load_dataset(p) for p in inputs]
    _check_compatible(parts)
    aus = sorted({a for p in parts for a in p.aus})
    intensity = sorted({c for p in parts for c in p.frames.columns if INTENSITY_COLUMN.match(c)})
    tmp = out.with_name(out.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    h, w = parts[0].image_size
    faces = open_faces_for_writing(tmp / FACES_FILE, sum(len(p.frames) for p in parts), h, w)
    tables, pos = [], 0
    for p in parts:
        f = p.frames[["subject", "sequence", "frame", "face"]].copy()
        faces[pos : pos + len(f)] = p.faces[f["face"].to_numpy()]
        f["face"] = np.arange(pos, pos + len(f), dtype=np.int64)
        for col in aus + intensity:
            f[col] = p.frames[col].to_numpy() if col in p.frames.columns else np.int8(-1)
        tables.append(f)
        pos += len(f)
    faces.flush()
    del faces
    frames = pd.concat(tables, ignore_index=True)
    subjects = pd.concat([p.subjects for p in parts], ignore_index=True)
    meta = {
        "format_version": FORMAT_VERSION,
        "image_size": [h, w],
        "aus": aus,
        "provenance": {"merged_by": f"auditkit {__version__}",
                       "parts": [{"name": p.root.name, "fingerprint": p.fingerprint, "provenance": p.meta["provenance"]}
                                 for p in parts]},
        "sources": {k: v for p in parts for k, v in p.meta.get("sources", {}).items()},
    }
    write_tables(tmp, subjects, frames, meta)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out
