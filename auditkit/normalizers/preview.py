"""Pictures of a normalization: originals beside normalized faces, and the paper's Figure 2 per group."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd


def _label(width: int, text: str, height: int = 18) -> np.ndarray:
    tile = np.full((height, width), 255, np.uint8)
    cv2.putText(tile, text, (3, height - 5), cv2.FONT_HERSHEY_SIMPLEX, 0.4, 0, 1, cv2.LINE_AA)
    return tile


def histogram_tile(before: np.ndarray, after: np.ndarray, size: int) -> np.ndarray:
    """Luminance histograms of two images: before in grey bars, after as a black line (Figure 2, top row)."""
    tile = np.full((size, size), 255, np.uint8)
    bins = 32
    hb = np.histogram(before, bins=bins, range=(0, 256))[0].astype(float)
    ha = np.histogram(after, bins=bins, range=(0, 256))[0].astype(float)
    top = max(hb.max(), ha.max(), 1.0)
    width = size / bins
    for i, v in enumerate(hb):
        h = int((size - 4) * v / top)
        cv2.rectangle(tile, (int(i * width), size - h), (int((i + 1) * width) - 1, size - 1), 170, -1)
    pts = np.array([[int((i + 0.5) * width), size - 1 - int((size - 4) * v / top)] for i, v in enumerate(ha)], np.int32)
    cv2.polylines(tile, [pts], False, 0, 1, cv2.LINE_AA)
    return tile


def comparison_sheet(originals: dict[str, np.ndarray], normalized: dict[str, np.ndarray], groups: pd.Series,
                     per_subject: int = 4, max_subjects: int = 6, min_group: int = 5) -> np.ndarray:
    """Rows of originals|normalized per subject, then per group (of >= min_group subjects): average face and histogram.

    Individual faces appear only in the first part; pass max_subjects=0 to publish group averages alone.
    """
    size = next(iter(originals.values())).shape[1]
    rows = []
    for s in list(originals)[:max_subjects]:
        o, n = originals[s][:per_subject], normalized[s][:per_subject]
        rows.append(
            np.concatenate([_label(size * len(o), f"{s}: original")] * 1 + [_label(size * len(n), "normalized")], 1)
        )
        rows.append(np.concatenate(list(o) + list(n), axis=1))
    width = rows[0].shape[1] if rows else 4 * size
    for name, members in groups.groupby(groups):
        subjects = [s for s in members.index if s in originals]
        if len(subjects) < min_group:
            continue  # privacy: averages over fewer people reveal individuals
        before = np.mean([originals[s].mean(0) for s in subjects], axis=0).astype(np.uint8)
        after = np.mean([normalized[s].mean(0) for s in subjects], axis=0).astype(np.uint8)
        row = np.concatenate([before, after, histogram_tile(before, after, size)], axis=1)
        pad = np.full((size, max(0, width - row.shape[1])), 255, np.uint8)
        rows.append(
            np.concatenate(
                [
                    _label(row.shape[1], f"{name} (n={len(subjects)}): mean before | after | histogram"),
                    np.full((18, pad.shape[1]), 255, np.uint8),
                ],
                1,
            )
        )
        rows.append(np.concatenate([row, pad], 1))
        width = max(width, row.shape[1])
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(r, ((0, 0), (0, width - r.shape[1])), constant_values=255) for r in rows], axis=0)


def write_sheet(image: np.ndarray, path: str | Path) -> Path:
    """Write a PNG, creating its folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), image):
        raise OSError(f"could not write {path}")
    return path


def preview_dataset(original: object, normalized: object, path: str | Path, seed: int = 0,
                    include_faces: bool = True, per_subject: int = 8) -> Path:
    """The preview of `auditkit normalize`: the same sampled frames of every subject before and after, grouped by
    gender and skin type, written as a PNG."""
    from auditkit.data.inspect import skin_bin

    rng = np.random.default_rng(seed)
    subjects = list(original.subjects["subject"])
    picks = {s: np.sort(rng.choice(len(original.subject_frames(s)), min(per_subject, len(original.subject_frames(s))),
                                   replace=False)) for s in subjects}
    before = {s: original.faces_of(s)[picks[s]] for s in subjects}
    after = {s: normalized.faces_of(s)[picks[s]] for s in subjects}
    groups = original.subjects.set_index("subject").apply(
        lambda r: f"{r.get('gender', 'unknown')}, {skin_bin(r.get('fitzpatrick'))}", axis=1)
    return write_sheet(comparison_sheet(before, after, groups, max_subjects=6 if include_faces else 0), path)
