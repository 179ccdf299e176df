"""Detection failure as a bias of its own: the share of each person's frames a tool never served, per group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditkit.data.format import SKIPPED_FILE
from auditkit.protocol.groups import Pool
from auditkit.stats import holm, two_sample


def missed_frames(frames: pd.DataFrame, served_rows: np.ndarray, pools: list[Pool]) -> pd.DataFrame:
    """Per subject of every pool: dataset frames, frames the tool gave no prediction for, and that share."""
    served = np.zeros(len(frames), bool)
    served[served_rows] = True
    table = pd.DataFrame({"subject": frames["subject"].to_numpy(), "missed": ~served})
    per = table.groupby("subject")["missed"].agg(["size", "sum"]).rename(columns={"size": "frames", "sum": "missed"})
    group_of = {s: p.name for p in pools for s in p.subjects}
    per = per[per.index.isin(list(group_of))].reset_index()
    per.insert(0, "group", per["subject"].map(group_of))
    per["missed_share"] = per["missed"] / per["frames"]
    return per.sort_values(["group", "subject"], kind="stable").reset_index(drop=True)


def missed_by_group(per_subject: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean missed share per group (over subjects) and pairwise subject t-tests between groups, Holm-corrected."""
    groups = sorted(per_subject["group"].unique())
    summary = per_subject.groupby("group").agg(subjects=("subject", "size"), frames=("frames", "sum"),
                                               missed=("missed", "sum"), missed_share=("missed_share", "mean"))
    rows = []
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            sa = per_subject.loc[per_subject["group"] == a, "missed_share"].to_numpy()
            sb = per_subject.loc[per_subject["group"] == b, "missed_share"].to_numpy()
            rows.append({"comparison": f"{a} vs {b}", **two_sample(sa, sb, seed)})
    tests = pd.DataFrame(rows)
    if len(tests):
        tests["p_holm"] = holm(tests["p"]).to_numpy()
    return summary.reset_index(), tests


def ingest_losses(dataset: object, pools: list[Pool]) -> pd.DataFrame | None:
    """Per subject of every pool: labelled frames where ingest found no face (the face detector's misses).

    Read from the dataset's skipped_frames.parquet (written by `auditkit ingest`); None for datasets without one
    (the synthetic benchmark, datasets made elsewhere). Unreadable image files are not detection failures: left out.
    """
    path = dataset.root / SKIPPED_FILE
    if not path.is_file():
        return None
    skipped = pd.read_parquet(path, columns=["subject", "reason"])
    no_face = skipped.loc[skipped["reason"] == "no_face", "subject"].astype(str).value_counts()
    kept = dataset.frames["subject"].astype(str).value_counts()
    group_of = {s: p.name for p in pools for s in p.subjects}
    rows = [{"group": g, "subject": s, "frames": int(kept.get(s, 0) + no_face.get(s, 0)), "missed": int(no_face.get(s, 0))}
            for s, g in group_of.items()]
    per = pd.DataFrame(rows, columns=["group", "subject", "frames", "missed"])
    per["missed_share"] = per["missed"] / per["frames"].clip(lower=1)
    return per.sort_values(["group", "subject"], kind="stable").reset_index(drop=True)
