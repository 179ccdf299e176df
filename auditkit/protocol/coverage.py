"""Detection failure as a bias of its own: the share of each person's frames a tool never served, per group."""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditkit.data.format import SKIPPED_FILE
from auditkit.protocol.groups import Pool
from auditkit.stats import holm, permutation_p, two_sample

MISSED_TEST = "permutation test on per-subject missed shares"


def _run_on(keys: pd.DataFrame, covered: list[tuple[str, str]]) -> np.ndarray:
    """Which rows of a (subject, sequence) table the tool ran on (`covered`: its (subject, sequence) pairs)."""
    pairs = pd.MultiIndex.from_arrays([keys["subject"].astype(str), keys["sequence"].astype(str)])
    return pairs.isin(pd.MultiIndex.from_tuples(covered)) if covered else np.zeros(len(keys), bool)


def not_run(frames: pd.DataFrame, covered: list[tuple[str, str]], pools: list[Pool]) -> dict:
    """The pools' subjects and sequences the tool has no predictions for at all (no file, no rows): never run, so
    neither scored nor counted as missed."""
    group_of = {s: p.name for p in pools for s in p.subjects}
    keys = frames[["subject", "sequence"]].astype(str).drop_duplicates()
    keys = keys[keys["subject"].isin(list(group_of))]
    present = _run_on(keys, covered)
    absent = keys[~present]
    subjects_run = set(keys.loc[present, "subject"])
    no_subject = sorted(set(absent["subject"]) - subjects_run)
    partial = absent[absent["subject"].isin(subjects_run)]
    return {
        "subjects": len(no_subject),
        "subject_ids": no_subject,
        "sequences": int(len(partial)),
        "subjects_by_group": {g: sum(group_of[s] == g for s in no_subject) for g in dict.fromkeys(group_of.values())},
    }


def missed_frames(frames: pd.DataFrame, served_rows: np.ndarray, pools: list[Pool],
                  covered: list[tuple[str, str]] | None = None) -> pd.DataFrame:
    """Per subject of every pool: dataset frames, frames the tool gave no prediction for, and that share.

    With `covered` (the (subject, sequence) pairs the tool ran on) only those sequences count: a subject or sequence
    the tool never ran on is not a detection failure (`not_run` reports them)."""
    served = np.zeros(len(frames), bool)
    served[served_rows] = True
    table = pd.DataFrame({"subject": frames["subject"].to_numpy(), "missed": ~served})
    if covered is not None:
        table = table[_run_on(frames, covered)]
    per = table.groupby("subject")["missed"].agg(["size", "sum"]).rename(columns={"size": "frames", "sum": "missed"})
    group_of = {s: p.name for p in pools for s in p.subjects}
    per = per[per.index.isin(list(group_of))].reset_index()
    per.insert(0, "group", per["subject"].map(group_of))
    per["missed_share"] = per["missed"] / per["frames"]
    return per.sort_values(["group", "subject"], kind="stable").reset_index(drop=True)


def missed_by_group(per_subject: pd.DataFrame, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Mean missed share per group (over subjects) and pairwise permutation tests between groups (subjects relabelled;
    bootstrap CI of the difference), Holm-corrected."""
    groups = sorted(per_subject["group"].unique())
    summary = per_subject.groupby("group").agg(subjects=("subject", "size"), frames=("frames", "sum"),
                                               missed=("missed", "sum"), missed_share=("missed_share", "mean"))
    rows = []
    for i, a in enumerate(groups):
        for b in groups[i + 1:]:
            sa = per_subject.loc[per_subject["group"] == a, "missed_share"].to_numpy()
            sb = per_subject.loc[per_subject["group"] == b, "missed_share"].to_numpy()
            # a permutation p over subjects: missed shares are often flat within a group (every man 25 %, every woman
            # 0 %), where a t-test has no variance to work with; relabelling subjects still answers the question
            row = {**two_sample(sa, sb, seed), "test": MISSED_TEST, "statistic": float("nan"), "dof": float("nan"),
                   "p": permutation_p(sa, sb, seed)}
            rows.append({"comparison": f"{a} vs {b}", **row})
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
    rows = [
        {"group": g, "subject": s, "frames": int(kept.get(s, 0) + no_face.get(s, 0)), "missed": int(no_face.get(s, 0))}
        for s, g in group_of.items()
    ]
    per = pd.DataFrame(rows, columns=["group", "subject", "frames", "missed"])
    per["missed_share"] = per["missed"] / per["frames"].clip(lower=1)
    return per.sort_values(["group", "subject"], kind="stable").reset_index(drop=True)


def ingest_loss_record(dataset: object, pools: list[Pool], seed: int = 0) -> dict | None:
    """run.json's `ingest_losses`: per group, the frames the face detector missed at ingest, with the tests between
    groups; None for datasets that record no losses. Every audit kind reports it, since those frames reach no model."""
    import json

    losses = ingest_losses(dataset, pools)
    if losses is None:
        return None
    by_group, tests = missed_by_group(losses, seed)
    return {
        "groups": json.loads(by_group.to_json(orient="records")),
        "tests": json.loads(tests.to_json(orient="records")),
    }


def sources_of(dataset: object, subjects: list[str]) -> list[str]:
    """The source datasets (subjects.parquet's `dataset`) the given subjects come from: the audit's scope, stated."""
    table = dataset.subjects
    if "dataset" not in table:
        return []
    return sorted(table.loc[table["subject"].isin(list(subjects)), "dataset"].astype(str).unique())
