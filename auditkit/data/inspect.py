"""A dataset's summary: who is in it, how many frames, how often each AU is present and coded."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from auditkit.data.dataset import Dataset


def skin_bin(value: object) -> str:
    """Paper's skin-type bins: lighter (I-II), medium (III-IV), darker (V-VI), unknown."""
    if pd.isna(value):
        return "unknown"
    v = int(value)
    return "lighter (I-II)" if v <= 2 else ("darker (V-VI)" if v >= 5 else "medium (III-IV)")


@dataclass
class Summary:
    """Tables printed by `auditkit inspect`."""

    subjects: pd.DataFrame  # per source dataset: subjects, frames, and counts per gender / skin bin
    aus: pd.DataFrame  # per AU and source dataset: base rate among coded frames, coded fraction


def summarize(ds: Dataset) -> Summary:
    """Build the per-dataset subject counts and per-AU base rates of a dataset."""
    subjects = ds.subjects.copy()
    frames_per = ds.frames.groupby("subject").size()
    subjects["frames"] = subjects["subject"].map(frames_per).fillna(0).astype(int)
    rows = []
    for name, grp in subjects.groupby("dataset", sort=True):
        row = {"dataset": name, "subjects": len(grp), "frames": int(grp["frames"].sum())}
        if "gender" in grp:
            for g, n in grp["gender"].fillna("unknown").value_counts().sort_index().items():
                row[f"gender: {g}"] = int(n)
        if "fitzpatrick" in grp:
            for b, n in grp["fitzpatrick"].map(skin_bin).value_counts().sort_index().items():
                row[f"skin: {b}"] = int(n)
        rows.append(row)
    per_dataset = pd.DataFrame(rows).fillna(0)
    source_of = dict(zip(ds.subjects["subject"], ds.subjects["dataset"], strict=True))
    frame_source = ds.frames["subject"].map(source_of)
    au_rows = []
    for au in ds.aus:
        for name in sorted(frame_source.unique()):
            values = ds.frames.loc[frame_source == name, au]
            coded = values >= 0
            au_rows.append({
                "au": au,
                "dataset": name,
                "coded": float(coded.mean()) if len(values) else 0.0,
                "base_rate": float((values == 1).sum() / coded.sum()) if coded.any() else float("nan"),
            })
    return Summary(subjects=per_dataset, aus=pd.DataFrame(au_rows))
