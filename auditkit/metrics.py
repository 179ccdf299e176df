"""Per-AU F1 and accuracy at threshold 0.5, disaggregated by test subject (fairlearn), and the paper's score."""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count
from sklearn.metrics import accuracy_score, f1_score

THRESHOLD = 0.5
# F1 is undefined when a subject neither shows nor is predicted to show an AU; that is perfect agreement, so 1.0.
F1_ZERO_DIVISION = 1.0
f1 = partial(f1_score, zero_division=F1_ZERO_DIVISION)


def macro_f1(Y: np.ndarray, proba: np.ndarray, threshold: float = THRESHOLD) -> float:
    """Mean over AUs of F1 on coded frames (model selection on the validation set; same formula as sklearn's f1)."""
    coded = Y >= 0
    pred = proba >= threshold
    truth = Y == 1
    tp = (pred & truth & coded).sum(0)
    fp = (pred & ~truth & coded).sum(0)
    fn = (~pred & truth & coded).sum(0)
    denom = 2 * tp + fp + fn
    f1s = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), F1_ZERO_DIVISION)
    used = coded.any(0)
    return float(f1s[used].mean()) if used.any() else 0.0


def per_subject_au(Y: np.ndarray, proba: np.ndarray, subjects: np.ndarray, aus: list[str],
                   threshold: float = THRESHOLD) -> pd.DataFrame:
    """One row per (subject, AU): f1, accuracy, support (coded frames), positives; not-coded frames excluded per AU."""
    subjects = np.asarray(subjects)
    pred = (proba >= threshold).astype(np.int8)
    frames = []
    for k, au in enumerate(aus):
        coded = Y[:, k] >= 0
        if not coded.any():
            continue
        mf = MetricFrame(
            metrics={"f1": f1, "accuracy": accuracy_score, "support": count},
            y_true=Y[coded, k], y_pred=pred[coded, k], sensitive_features=pd.Series(subjects[coded], name="subject"),
        )
        table = mf.by_group.reset_index()
        positives = pd.Series(Y[coded, k] == 1).groupby(subjects[coded]).sum()
        table["positives"] = table["subject"].map(positives).astype(int)
        table.insert(1, "au", au)
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["subject", "au", "f1", "accuracy", "support", "positives"])
    out = pd.concat(frames, ignore_index=True)
    out["support"] = out["support"].astype(int)
    return out


def add_score(rows: pd.DataFrame) -> pd.DataFrame:
    """The paper's per-AU score: mean of F1 and accuracy."""
    rows = rows.copy()
    rows["score"] = (rows["f1"] + rows["accuracy"]) / 2.0
    return rows


def subject_scores(results: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per test subject (within `keys`, e.g. condition, normalizer, repetition): the mean score over AUs."""
    scored = add_score(results)
    return scored.groupby(keys + ["subject"], sort=True, observed=True)[["score", "f1", "accuracy"]].mean().reset_index()
