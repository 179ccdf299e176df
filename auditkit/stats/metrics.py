"""Per-AU F1 and accuracy at threshold 0.5, disaggregated by test subject, and the paper's score."""

from __future__ import annotations

import numpy as np
import pandas as pd

from auditkit.errors import AuditkitError

# bump when a change here can change a results row's scores
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1

THRESHOLD = 0.5
# F1 is undefined when a subject neither shows nor is predicted to show an AU (no positives, no predicted positives).
# The rules an audit can score that case by (--f1-no-positives); the report's method text states the one used.
F1_RULES = {"one": 1.0, "exclude": float("nan"), "zero": 0.0}
F1_RULE_TEXT = {
    "one": "scored 1.0 (perfect agreement); one false positive makes it 0.0, so rare AUs make per-subject F1 "
           "bimodal and reward a model that never fires",
    "exclude": "left out (F1 undefined: that subject's F1 and score for the AU are not averaged; its accuracy is)",
    "zero": "scored 0.0 (as scikit-learn's zero_division=0): a subject who never shows an AU can never score F1 on it",
}
# `exclude` by default, chosen on evidence (the figures: benchmarks/README.md, "F1 of a subject without positives"):
# on the default audits `one` shrank the darker/lighter difference and hid a between-dataset one, because groups
# differ in how often a subject never shows an AU; `zero` charges a subject for AUs they never show.
DEFAULT_F1_RULE = "exclude"
# model selection on the validation set pools every validation subject, so an AU there is undefined only when nobody
# in the validation draw shows it and nothing is predicted: counted as agreement (a constant across epochs)
F1_ZERO_DIVISION = 1.0


def recorded_f1_rule(config: dict, where: object) -> str:
    """The F1 rule an audit's run.json config records; a one-line error for an audit that records none (written by
    auditkit 0.1, before the rule was recorded: its scores cannot be read under a known rule)."""
    rule = config.get("f1_rule")
    if rule not in F1_RULES:
        raise AuditkitError(f"{where}: records no F1 rule (config.f1_rule; an audit written by auditkit 0.1): "
                            "re-run the audit with this version")
    return str(rule)


def check_f1_rule(rule: str) -> None:
    """A one-line error for an unknown --f1-no-positives rule."""
    if rule not in F1_RULES:
        raise AuditkitError(f"--f1-no-positives: unknown rule {rule!r} (choose from {', '.join(F1_RULES)})")


def f1_rule_value(rule: str) -> float:
    """The F1 given to a subject with no positives and no predicted positives under `rule` (checked)."""
    check_f1_rule(rule)
    return F1_RULES[rule]


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
                   threshold: float = THRESHOLD, f1_rule: str = DEFAULT_F1_RULE) -> pd.DataFrame:
    """One row per (subject, AU): f1, accuracy, support (coded frames), positives; not-coded frames excluded per AU.

    The values are those of fairlearn's MetricFrame over sklearn's f1_score and accuracy_score
    (tests/test_stats_metrics.py
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
        f1s = np.where(denom > 0, 2 * tp / np.maximum(denom, 1), f1_rule_value(f1_rule))
        accuracy = (tp + tn) / np.maximum(support, 1)
    rows = [(names[s], au, float(f1s[s, k]), float(accuracy[s, k]), int(support[s, k]), int(positives[s, k]))
            for k, au in enumerate(aus) for s in range(len(names)) if support[s, k] > 0]
    return pd.DataFrame(rows, columns=["subject", "au", "f1", "accuracy", "support", "positives"])


def add_score(rows: pd.DataFrame) -> pd.DataFrame:
    """The paper's per-AU score: mean of F1 and accuracy (NaN where F1 is left out by the `exclude` rule, so the
    averages over AUs and models skip it)."""
    rows = rows.copy()
    rows["score"] = (rows["f1"] + rows["accuracy"]) / 2.0
    return rows


def rescore_f1(results: pd.DataFrame, rule: str) -> pd.DataFrame:
    """results rows re-scored as if the undefined F1 cases followed `rule`: exact for rows scored under `one` or
    `exclude` (a subject with no positives then has F1 0 exactly when something was predicted); rows scored under
    `zero` cannot be told apart. Used by benchmarks/bench_f1_rule.py."""
    rows = results.copy()
    undefined = (rows["positives"] == 0) & (rows["f1"].isna() | (rows["f1"] != 0))
    rows.loc[undefined, "f1"] = f1_rule_value(rule)
    return rows


def subject_scores(results: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per test subject (within `keys`, e.g. condition, normalizer, repetition): the mean score over AUs."""
    scored = add_score(results)
    return (
        scored.groupby(keys + ["subject"], sort=True, observed=True)[["score", "f1", "accuracy"]].mean().reset_index()
    )
