"""Ingesters for licensed datasets in their distributed layouts (BP4D-Spontaneous, DISFA) into the auditkit format."""

from __future__ import annotations

from pathlib import Path

from auditkit.data.format import au_name
from auditkit.data.ingest import bp4d, disfa
from auditkit.data.ingest.demographics import join_demographics, read_demographics
from auditkit.data.ingest.writer import IngestJob, run_ingest
from auditkit.data.preprocess import PreprocessConfig
from auditkit.errors import AuditkitError

SOURCES = ("bp4d", "disfa")

__all__ = ["SOURCES", "IngestJob", "build_job", "ingest_with_plugin", "parse_aus", "run_ingest"]


def ingest_with_plugin(name: str, root: str | Path, out: str | Path, demographics: str | Path | None = None,
                       n_jobs: int = -1) -> Path:
    """Ingest through an installed `auditkit.datasets` plugin, a source auditkit does not ship: its
    `load(out, root=..., demographics=..., n_jobs=...)` writes the dataset directory, which must then load cleanly."""
    from auditkit.data.dataset import load_dataset
    from auditkit.plugins import available, check_contract, load

    if name not in available("dataset"):
        known = ", ".join(dict.fromkeys([*SOURCES, *sorted(available("dataset"))]))
        raise AuditkitError(f"ingest: unknown source {name!r} (choose from {known}; `auditkit plugins` lists plugins)")
    source = load("dataset", name)
    source = source() if isinstance(source, type) else source
    check_contract("dataset", name, source)
    try:
        written = source.load(out, root=root, demographics=demographics, n_jobs=n_jobs)
    except AuditkitError:
        raise
    except Exception as exc:  # a broken third-party source must not end in a traceback
        raise AuditkitError(f"dataset plugin {name!r} failed: {exc.__class__.__name__}: {exc}") from None
    path = Path(written or out)
    load_dataset(path)  # what it wrote must be a valid dataset directory (a DatasetError names the file otherwise)
    return path


def parse_aus(text: str | None) -> tuple[int, ...] | None:
    """'1,2,4' or 'AU01,AU02' -> (1, 2, 4); 'all' -> None (every AU the files code); None -> the source's default."""
    if text is None:
        return ()
    if text.strip().lower() == "all":
        return None
    out = []
    for part in text.split(","):
        p = part.strip().upper().removeprefix("AU")
        if not p.isdigit():
            raise AuditkitError(f"--aus: {part.strip()!r} is not an AU number (use e.g. 1,2,4 or AU01,AU02)")
        out.append(int(p))
    if not out:
        raise AuditkitError("--aus: give at least one AU")
    return tuple(sorted(set(out)))


def build_job(source: str, root: str | Path, demographics: str | Path | None = None, aus: str | None = None,
              camera: str = "left", threshold: int | None = None, allow_missing_demographics: bool = False,
              skip_unreadable: bool = False, preprocess: PreprocessConfig = PreprocessConfig()) -> IngestJob:
    """Discover a source tree, read every label file and the demographics, and describe the ingest to run."""
    if source not in SOURCES:
        raise AuditkitError(f"ingest: unknown source {source!r} (choose from {', '.join(SOURCES)})")
    root = Path(root)
    if not root.is_dir():
        raise AuditkitError(f"{root}: not a directory")
    if demographics is None and not allow_missing_demographics:
        raise AuditkitError(
            "ingest: no demographics file given (pass --demographics FILE, or --allow-missing-demographics)"
        )
    wanted = parse_aus(aus)
    options: dict = {"source_root": root.name, "aus": aus or "default", "skip_unreadable": skip_unreadable}
    if source == "bp4d":
        units = bp4d.discover(root, bp4d.DEFAULT_AUS if wanted == () else wanted)
        au_cols = [c for c in units[0].labels.columns if c.startswith("AU") and not c.endswith("_intensity")]
        meta = bp4d.source_meta(units, au_cols)
    else:
        thr = disfa.OCCURRENCE_THRESHOLD if threshold is None else threshold
        if not 1 <= thr <= 5:
            raise AuditkitError(f"--threshold: must be 1-5, got {thr}")
        numbers = disfa.DEFAULT_AUS if wanted in ((), None) else wanted  # DISFA codes only its twelve: 'all' = those
        units = disfa.discover(root, numbers, camera, thr)
        au_cols = [au_name(a) for a in numbers]
        meta = disfa.source_meta(units, au_cols, thr)
        options.update({"camera": camera, "threshold": thr})
    # every unit must carry the same columns for the shards to stack
    cols = list(units[0].labels.columns)
    for u in units[1:]:
        if list(u.labels.columns) != cols:
            raise AuditkitError(f"{u.label_file}: codes other AUs than {units[0].label_file.name}; "
                                "pass --aus to pick a common set")
    demo = read_demographics(Path(demographics)) if demographics is not None else None
    if demographics is not None:
        options["demographics"] = Path(demographics).name
    subjects = sorted({u.subject for u in units})
    joined = join_demographics(subjects, source, demo, Path(demographics) if demographics else None,
                               allow_missing=allow_missing_demographics)
    return IngestJob(source=source, units=units, aus=au_cols, source_meta=meta, demographics=joined, options=options,
                     preprocess=preprocess, skip_unreadable=skip_unreadable)
