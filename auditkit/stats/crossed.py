"""Inference whose unit matches an audit's design: test subjects *crossed with* trainings.

A score belongs to a (subject, training) pair. Every subject of a group is scored by the same few trainings, and
trainings differ from one another (another draw of training people, another initialisation), so a test or interval
that resamples subjects alone treats the audit's handful of trainings as if they were the only ones there could be,
and its verdicts do not survive a re-run with another seed. Here both sources of variation count:

- The statistic is a signed sum of *terms*; a term is the mean, over the subjects of one set, of each subject's mean
  over the repetitions in which one *arm* (e.g. the within-group models of a normalizer) scored them. With every
  weight 1 this is exactly the subject-mean statistic the paper's tables print.
- Its variance comes from jackknives (the infinitesimal jackknife, Jaeckel 1972 / Efron 1982: each unit's influence
  is the derivative of the statistic with respect to its weight, computed by central differences), one over test
  subjects and one over repetitions, each stratified (subjects within their test group, whose sizes the design
  fixes; repetitions within the audit that ran them, so two audits' trainings are independent and one audit's
  normalizers stay paired by repetition). Under the crossed random-effects model y = mu + a_subject + b_training +
  e, the two one-way parts estimate var(a)/S + var(e)/(S R) and var(b)/R + var(e)/(S R): each counts the
  interaction, so a third, cellwise part (each subject-repetition cell's influence) estimates it and is subtracted
  once, the correction that the double counting of Owen's pigeonhole bootstrap for crossed designs calls for (Owen,
  2007, "The pigeonhole bootstrap", Annals of Applied Statistics 1(2)). The total never falls below either one-way
  part. Delete-one jackknives were tried first: with the sparse within-group cells of a gap audit (a subject is
  tested by its own pool's model in about a third of the repetitions) their ratio bias made intervals 40 % too wide.
  Also measured and dropped (bench_calibration.py's null audits): residuals from the term's mean in the repetitions'
  and cells' parts (the multiway-clustering form of Cameron, Gelbach & Miller, 2011), and a subjects' part with each
  repetition's effect removed first. For the change a normalizer makes to a between-group difference every jackknife
  form put the standard error at about 1.4 times the spread of the estimates over null audits; that statistic has its
  own variance (`change_between_groups`: repetitions as replicates plus a lasting-person part).
- Each stratum's part has n - 1 degrees of freedom; the total's are Welch-Satterthwaite's (Satterthwaite, 1946), so
  a few repetitions or subjects give the wide t quantiles they should. Interval: estimate +- t * SE;
  test of "no difference": two-sided t.

A fixed model (a pretrained model or saved predictions: one repetition, nothing trained) has no training variance to
count: its repetition stratum is left out and the test is Welch's t-test on subjects. A trained audit with fewer than
`MIN_REPETITIONS` repetitions has no estimate of training variance: every figure is NaN rather than an interval that
silently leaves it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

ALPHA = 0.05  # the one significance level: every test, interval (LEVEL) and power figure uses it
LEVEL = 1 - ALPHA
MIN_REPETITIONS = 2  # a jackknife over repetitions needs two; the report treats fewer than 3 as no finding anyway
CELL_COLUMNS = ["arm", "stratum", "subject", "run", "repetition", "score"]


@dataclass(frozen=True)
class Term:
    """sign * (mean over the subjects of `stratum` (None: every stratum) of their mean over `arm`'s repetitions)."""

    arm: str
    sign: float = 1.0
    stratum: str | None = None


@dataclass(frozen=True)
class Inference:
    """An estimate with its crossed standard error, t interval and two-sided p; what each source contributed."""

    estimate: float
    se: float
    dof: float
    ci_low: float
    ci_high: float
    p: float
    var_subjects: float  # the subjects' jackknife variance (people)
    var_trainings: float  # the repetitions' jackknife variance (trainings); 0 for a fixed model
    subjects: int
    repetitions: int  # trainings draws the variance rests on (per audit, summed)

    def row(self, prefix: str = "") -> dict:
        """The figures as a flat dict (keys prefixed), as tables carry them."""
        return {f"{prefix}{k}": getattr(self, k) for k in ("estimate", "se", "dof", "ci_low", "ci_high", "p",
                                                              "var_subjects", "var_trainings", "subjects",
                                                              "repetitions")}


NAN = float("nan")


def _empty(estimate: float = NAN, subjects: int = 0, repetitions: int = 0) -> Inference:
    return Inference(estimate, NAN, NAN, NAN, NAN, NAN, NAN, NAN, subjects, repetitions)


class _Cells:
    """The cell table as dense arrays: one (subjects x repetitions) matrix per arm, NaN where nothing was scored."""

    def __init__(self, cells: pd.DataFrame) -> None:
        missing = [c for c in CELL_COLUMNS if c not in cells.columns]
        if missing:
            raise ValueError(f"crossed inference: cell table lacks the column {missing[0]!r}")
        cells = cells.dropna(subset=["score"])
        keyed = cells.assign(rep_key=list(zip(cells["run"].astype(str), cells["repetition"].astype(int), strict=True)))
        # one value per (arm, subject, repetition): several models of one repetition (cross-group models of several
        # other pools) are averaged first, so each repetition counts once
        cell = keyed.groupby(["arm", "subject", "rep_key"], sort=True, observed=True)["score"].mean()
        self.subjects = sorted(cells["subject"].astype(str).unique())
        self.reps = sorted(set(keyed["rep_key"]))
        s_index = {s: i for i, s in enumerate(self.subjects)}
        r_index = {r: i for i, r in enumerate(self.reps)}
        stratum = cells.drop_duplicates("subject").set_index(cells.drop_duplicates("subject")["subject"].astype(str))
        self.stratum = np.array([str(stratum.loc[s, "stratum"]) for s in self.subjects])
        self.run = np.array([r[0] for r in self.reps])
        self.arms: dict[str, np.ndarray] = {}
        for arm, part in cell.groupby(level="arm", sort=False):
            y = np.full((len(self.subjects), len(self.reps)), np.nan)
            for (_, subject, rep), value in part.items():
                y[s_index[str(subject)], r_index[rep]] = value
            self.arms[str(arm)] = y

    def statistic(self, terms: Sequence[Term], w: np.ndarray, v: np.ndarray,
                  u: np.ndarray | None = None) -> np.ndarray:
        """The statistic under subject weights w (B, S), repetition weights v (B, R) and optional cell weights
        u (B, S, R): shape (B,)."""
        total = np.zeros(max(len(w), len(v), 0 if u is None else len(u)))
        for term in terms:
            y = self.arms.get(term.arm)
            if y is None:
                return np.full(len(total), np.nan)
            present = np.isfinite(y)
            if u is None:
                num = v @ np.where(present, y, 0.0).T  # (B, S): repetition-weighted sums per subject
                den = v @ present.T.astype(float)
            else:
                num = np.einsum("br,bsr,sr->bs", v, u, np.where(present, y, 0.0))
                den = np.einsum("br,bsr,sr->bs", v, u, present.astype(float))
            with np.errstate(invalid="ignore", divide="ignore"):
                per_subject = num / den
            members = np.ones(len(self.subjects), bool) if term.stratum is None else self.stratum == term.stratum
            weight = w * (members & present.any(1))[None, :] * (den > 0)
            with np.errstate(invalid="ignore", divide="ignore"):
                mean = np.nansum(weight * np.nan_to_num(per_subject), 1) / weight.sum(1)
            total = total + term.sign * mean
        return total

    def units(self, terms: Sequence[Term]) -> np.ndarray:
        """Which (subject, repetition) cells the statistic reads (a unit it never reads changes nothing)."""
        cells = np.zeros((len(self.subjects), len(self.reps)), bool)
        for term in terms:
            y = self.arms.get(term.arm)
            if y is None:
                continue
            members = np.ones(len(self.subjects), bool) if term.stratum is None else self.stratum == term.stratum
            cells |= np.isfinite(y) & members[:, None]
        return cells


EPS = 1e-3  # the weight step of the numerical derivatives (central differences: error of order EPS**2)


def _influence(data: _Cells, terms: Sequence[Term], which: str, units: tuple[np.ndarray, ...]) -> np.ndarray:
    """d statistic / d weight of each unit (a subject, a repetition, or a cell), by central differences."""
    n = len(units[0])
    n_s, n_r = len(data.subjects), len(data.reps)
    out = []
    for step in (EPS, -EPS):
        w, v, u = np.ones((n, n_s)), np.ones((n, n_r)), None
        if which == "subject":
            w[np.arange(n), units[0]] += step
        elif which == "repetition":
            v[np.arange(n), units[0]] += step
        else:
            u = np.ones((n, n_s, n_r))
            u[np.arange(n), units[0], units[1]] += step
        out.append(data.statistic(terms, w, v, u))
    return (out[0] - out[1]) / (2 * EPS)


def _variance(influence: np.ndarray, strata: np.ndarray) -> list[tuple[float, int]]:
    """(variance, units) per stratum: n / (n - 1) * sum of squared centred influences, the infinitesimal
    jackknife with the small-sample factor that makes it s^2 / n for a mean."""
    parts = []
    for h in dict.fromkeys(strata):
        values = influence[strata == h]
        n = len(values)
        if n < 2 or not np.isfinite(values).all():
            parts.append((NAN, n))
            continue
        parts.append((float(n / (n - 1) * ((values - values.mean()) ** 2).sum()), n))
    return parts


def crossed_inference(cells: pd.DataFrame | _Cells, terms: Sequence[Term], level: float = LEVEL,
                      fixed_runs: Sequence[str] = ()) -> Inference:
    """The statistic sum(term) on `cells` (CELL_COLUMNS: one row per arm, subject and repetition; `stratum` = the
    subject's test group, `run` = the audit a repetition belongs to) with its subject-and-training inference.

    `fixed_runs`: runs whose model is fixed (test-only audits): their single repetition adds no training variance.
    """
    data = cells if isinstance(cells, _Cells) else _Cells(cells)
    if not data.subjects or not data.reps:
        return _empty()
    n_s, n_r = len(data.subjects), len(data.reps)
    estimate = float(data.statistic(terms, np.ones((1, n_s)), np.ones((1, n_r)))[0])
    used = data.units(terms)
    used_s, used_r = used.any(1), used.any(0)
    fixed = np.isin(data.run, list(fixed_runs))
    trained = used_r & ~fixed
    n_subjects, n_reps = int(used_s.sum()), int(trained.sum())
    if not np.isfinite(estimate):
        return _empty(estimate, n_subjects, n_reps)
    s_idx, r_idx = np.flatnonzero(used_s), np.flatnonzero(trained)
    parts = _variance(_influence(data, terms, "subject", (s_idx,)), data.stratum[s_idx])
    rep_parts: list[tuple[float, int]] = []
    cell_parts: list[tuple[float, int]] = []
    if len(r_idx):
        rep_parts = _variance(_influence(data, terms, "repetition", (r_idx,)), data.run[r_idx])
        if any(n < MIN_REPETITIONS for _, n in rep_parts):
            return _empty(estimate, n_subjects, n_reps)
        # the interaction (a subject's luck with one training) is in both one-way parts: the cellwise part
        # estimates it, and is subtracted once
        cs, cr = np.nonzero(used & trained[None, :])
        cell_parts = _variance(
            _influence(data, terms, "cell", (cs, cr)), np.char.add(data.stratum[cs], "|" + data.run[cr])
        )
    var_s = sum(p for p, _ in parts)
    var_r = sum(p for p, _ in rep_parts)
    var_c = sum(p for p, _ in cell_parts)
    # never below either one-way part: each alone is a lower bound of the crossed variance
    variance = max(var_s + var_r - var_c, var_s, var_r)
    if not np.isfinite(variance):
        return _empty(estimate, n_subjects, n_reps)
    if variance <= 1e-18 * max(1.0, estimate * estimate):  # no variation anywhere: nothing to test
        return Inference(estimate, 0.0, NAN, estimate, estimate, NAN, var_s, var_r, n_subjects, n_reps)
    pieces = [(p, n) for p, n in parts + rep_parts + cell_parts if p > 0 and n > 1]
    dof = variance ** 2 / sum(p * p / (n - 1) for p, n in pieces)
    se = float(np.sqrt(variance))
    q = float(sps.t.ppf(0.5 + level / 2, dof))
    p = float(2 * sps.t.sf(abs(estimate) / se, dof))
    return Inference(estimate, se, float(dof), estimate - q * se, estimate + q * se, min(1.0, p), var_s, var_r,
                     n_subjects, n_reps)


def change_between_groups(changes: pd.DataFrame, a: str, b: str, level: float = LEVEL) -> Inference:
    """How a normalizer changes the difference between groups a and b: `changes` holds one row per (stratum, subject,
    repetition) with `score` = the cell's score under the normalizer minus under the baseline (both arms scored the
    same cells: paired by person and repetition).

    The estimate is the subject-mean one the tables print (mean over a's subjects of their mean change, minus b's).
    Its variance has two parts. Within the audit: each repetition is an independent replicate of the whole contrast
    (its own draw of training people, both arms' trainings, its own test subjects), so the spread of the
    per-repetition contrasts over R repetitions, divided by R, holds training variation and which subjects were
    tested. Beyond the audit's people: a person's own lasting response to the normalizer, estimated per group from
    the covariance of each subject's repetition-centred changes across pairs of their repetitions (a repetition's
    luck does not carry over to another repetition, a person's response does), clipped at 0 and divided by the
    group's size. Degrees of freedom: Welch-Satterthwaite over the parts. Chosen on bench_calibration.py's null
    audits, where the jackknife form (`crossed_inference`) put the standard error at 1.4 times the spread of the
    estimates (its subjects' part holds each subject's luck with their own few trainings) and rejected none.
    """
    data = changes.dropna(subset=["score"])
    data = data[data["stratum"].isin([a, b])]
    groups = {g: data[data["stratum"] == g] for g in (a, b)}
    if any(g.empty for g in groups.values()):
        return _empty()
    estimate = float(groups[a].groupby("subject")["score"].mean().mean()
                     - groups[b].groupby("subject")["score"].mean().mean())
    subjects = int(data["subject"].nunique())
    per_rep = data.groupby(["repetition", "stratum"])["score"].mean().unstack()
    per_rep = (per_rep[a] - per_rep[b]).dropna() if {a, b} <= set(per_rep.columns) else pd.Series(dtype=float)
    reps = len(per_rep)
    if reps < MIN_REPETITIONS:
        return _empty(estimate, subjects, reps)
    var_reps = float(per_rep.var(ddof=1) / reps)
    people: list[tuple[float, int]] = []
    for g in groups.values():
        residual = g["score"] - g.groupby("repetition")["score"].transform("mean")
        products = []
        for _, x in residual.groupby(g["subject"]):
            x = x.to_numpy()
            if len(x) >= 2:  # the mean of x_r * x_r' over the subject's pairs of repetitions r != r'
                products.append((x.sum() ** 2 - (x ** 2).sum()) / (len(x) * (len(x) - 1)))
        n = g["subject"].nunique()
        people.append((max(float(np.mean(products)), 0.0) / n if products else 0.0, n))
    var_people = sum(v for v, _ in people)
    variance = var_reps + var_people
    if not np.isfinite(variance) or variance <= 1e-18 * max(1.0, estimate * estimate):
        return Inference(estimate, 0.0, NAN, estimate, estimate, NAN, var_people, var_reps, subjects, reps)
    pieces = [(var_reps, reps)] + [(v, n) for v, n in people if v > 0 and n > 1]
    dof = variance ** 2 / sum(v * v / (n - 1) for v, n in pieces)
    se = float(np.sqrt(variance))
    q = float(sps.t.ppf(0.5 + level / 2, dof))
    p = float(2 * sps.t.sf(abs(estimate) / se, dof))
    return Inference(estimate, se, float(dof), estimate - q * se, estimate + q * se, min(1.0, p), var_people,
                     var_reps, subjects, reps)


def prepare(cells: pd.DataFrame) -> _Cells:
    """The dense form of a cell table, to run several statistics on it without rebuilding it."""
    return _Cells(cells)


def detectable_effect(inference: Inference, power: float = 0.8, alpha: float = ALPHA) -> float:
    """The smallest true difference this design finds with probability `power` at two-sided `alpha`: (t_{1-a/2} +
    t_{power}) * SE, on the interval's degrees of freedom (the usual normal-approximation power formula with t)."""
    if not (inference.se == inference.se and inference.dof == inference.dof) or inference.se <= 0:
        return NAN
    return float((sps.t.ppf(1 - alpha / 2, inference.dof) + sps.t.ppf(power, inference.dof)) * inference.se)


def repetitions_for(inference: Inference, half_width: float, level: float = LEVEL,
                    most: int = 500) -> int | None:
    """How many repetitions would give a 95% interval of at most +-`half_width`, from a pilot's inference: the
    trainings' variance shrinks as 1/R, the rest (people) stays; degrees of freedom by Welch-Satterthwaite from the
    two parts. None where the people's part alone is wider (more people are needed, not more repetitions)."""
    if not (inference.se == inference.se and inference.repetitions) or half_width <= 0:
        return None
    trainings = max(inference.var_trainings, 0.0) * inference.repetitions
    people = max(inference.se ** 2 - max(inference.var_trainings, 0.0), 0.0)
    people_dof = max(inference.subjects - 1, 1)
    for r in range(MIN_REPETITIONS, most + 1):
        variance = people + trainings / r
        pieces = people ** 2 / people_dof + (trainings / r) ** 2 / (r - 1)
        dof = variance ** 2 / pieces if pieces > 0 else float("inf")
        if sps.t.ppf(0.5 + level / 2, dof) * np.sqrt(variance) <= half_width:
            return r
    return None
