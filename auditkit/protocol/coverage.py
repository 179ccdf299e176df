"""Detection failure as a bias of its own: the share of each person's frames a tool never served, per group."""

from __future__ import annotations

import numpy as np
import pandas as pd

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
