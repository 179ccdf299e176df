"""Per-AU F1 and accuracy at threshold 0.5, disaggregated by test subject, and the paper's score."""

from __future__ import annotations

import numpy as np
import pandas as pd

THRESHOLD = 0.5
# F1 is undefined when a subject neither shows nor is predicted to show an AU; that is perfect agreement, so 1.0.
F1_ZERO_DIVISION = 1.0


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
    """One row per (subject, AU): f1, accuracy, support (coded frames), positives; not-coded frames excluded per AU.

    The values are those of fairlearn's MetricFrame over sklearn's f1_score and accuracy_score (tests/test_metrics.py
    checks it), computed here from per-subject confusion counts in one pass: MetricFrame per AU cost a third of every
    training's time in an audit (bench_lenet.py / #17).
    """
    subjects = np.asarray(subjects)
    names, index = np.unique(subjects, return_inverse=True)
    Y = np.asarray(Y)
    coded = Y >= 0
    truth = (Y == 1) & coded
    pred = (np.asarray(proba) >= threshold) & coded

    def per_subject(values: np.ndarray) -> np.ndarray:  # (frames, AUs) booleans -> (subjects, AUs) counts
        out = np.zeros((len(names), Y.shape[1]), np.int64)
        np.add.at(out, index, values.astype(np.int64))
        return out

    support, positives = per_subject(coded), per_subject(truth)
    tp, predicted = per_subject(pred & truth), per_subject(pred)
    fp, fn = predicted - tp, positives - tp
    tn = support - tp - fp - fn
    denom = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        f1s = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), F1_ZERO_DIVISION)
        accuracy = (tp + tn) / np.maximum(support, 1)
    rows = [(names[s], au, float(f1s[s, k]), float(accuracy[s, k]), int(support[s, k]), int(positives[s, k]))
            for k, au in enumerate(aus) for s in range(len(names)) if support[s, k] > 0]
    return pd.DataFrame(rows, columns=["subject", "au", "f1", "accuracy", "support", "positives"])


def add_score(rows: pd.DataFrame) -> pd.DataFrame:
    """The paper's per-AU score: mean of F1 and accuracy."""
    rows = rows.copy()
    rows["score"] = (rows["f1"] + rows["accuracy"]) / 2.0
    return rows


def subject_scores(results: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per test subject (within `keys`, e.g. condition, normalizer, repetition): the mean score over AUs."""
    scored = add_score(results)
    return scored.groupby(keys + ["subject"], sort=True, observed=True)[["score", "f1", "accuracy"]].mean().reset_index()
