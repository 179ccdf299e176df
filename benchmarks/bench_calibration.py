"""Benchmark: do auditkit's verdicts survive a re-run? Calibration of its tests and intervals on real audits.

Three experiments, each on real `auditkit gap` runs (real LeNet-5 trainings on the synthetic default):

(a) null  -- audits of a *coin* attribute: among the subjects of the skin-type audit (Fitzpatrick I-II and V-VI),
    groups `heads` and `tails` are drawn at random (the same sizes as darker and lighter), a new draw per audit, and
    each audit runs `none` beside `jitter`, a normalizer with no systematic effect (+-1 grey level of noise, its own
    training path: benchmarks/null_plugin). Nothing is true here: every gap, every between-group difference, every
    normalizer change and every comparison of two such audits is null, so each test should reject about 5 % and each
    95 % interval cover 0 about 95 % of the time.
(b) seeds -- the default skin-type audit (`auditkit gap --attr fitzpatrick`) at several `--seed`s: each seed's
    interval should cover the seeds' mean (the value a re-run lands near), and `compare` of two seeds (the same
    configuration) should find nothing.
(c) power -- effects planted into the null audits' results (a group's scores shifted by 3, 5 and 8 points; the
    jitter normalizer lowering one group), found at the rate the power formula predicts from each audit's own SE.

Run:  python benchmarks/bench_calibration.py run [--null 60] [--seeds 12] [--out audits/calibration]
      python benchmarks/bench_calibration.py table [--out audits/calibration] [--update-readme]

`run` is resumable (finished audits are skipped, an interrupted one resumes). `table` recomputes every statistic
from the audits' results.parquet with the installed auditkit, so the table always shows the current inference.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
PLUGIN = HERE / "null_plugin"
NULL_NORMALIZERS = ("none", "jitter")
NULL_REPEATS = 5
NULL_EPOCHS = 10


def log(message: str) -> None:
    """Progress on stderr, with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def default_data() -> Path:
    """The synthetic default dataset (rendered on first use, as `auditkit gap` does)."""
    from auditkit.data.synth.default import ensure_default_dataset

    return ensure_default_dataset()


def coin_dataset(source: Path, out: Path, draw: int) -> Path:
    """A view of `source` whose subjects.parquet has a `coin` column: heads/tails at random among the skin-type
    audit's subjects (as many heads as darker), missing for everyone else; the big files are linked, not copied."""
    out.mkdir(parents=True, exist_ok=True)
    for item in source.iterdir():
        if item.name != "subjects.parquet" and not (out / item.name).exists():
            (out / item.name).symlink_to(item.resolve())
    subjects = pd.read_parquet(source / "subjects.parquet")
    skin = subjects["fitzpatrick"].astype("Int64")
    darker, lighter = skin.isin([5, 6]).fillna(False), skin.isin([1, 2]).fillna(False)
    rng = np.random.default_rng(1000 + draw)
    coin = pd.Series(pd.NA, index=subjects.index, dtype="string")
    # per source dataset (a group audit uses the largest one), as many heads as darker-skinned people there
    for _, part in subjects.groupby("dataset", sort=True):
        members = part.index[(darker | lighter)[part.index].to_numpy()]
        heads = rng.choice(members, size=int(darker[part.index].sum()), replace=False)
        coin[members] = "tails"
        coin[heads] = "heads"
    subjects["coin"] = coin
    tmp = out / "subjects.parquet.tmp"
    subjects.to_parquet(tmp)
    os.replace(tmp, out / "subjects.parquet")
    return out


def finished(audit: Path) -> bool:
    """True once the audit wrote its report (the last thing `auditkit gap` writes)."""
    return (audit / "summary.json").exists() and (audit / "results.parquet").exists()


def gap(args: list[str], out: Path, env: dict[str, str] | None = None) -> float:
    """Run `auditkit gap ARGS --out OUT` unless finished; its wall seconds (0 when skipped)."""
    if finished(out):
        return 0.0
    start = time.time()
    proc = subprocess.run([sys.executable, "-m", "auditkit", "gap", *args, "--out", str(out)], env=env,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode:
        raise SystemExit(f"auditkit gap {' '.join(args)} failed:\n{proc.stderr[-2000:]}")
    return time.time() - start


def run(out: Path, n_null: int, n_seeds: int) -> None:
    """Every audit of the three experiments (resumable)."""
    source = default_data()
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PLUGIN), os.environ.get("PYTHONPATH")]))}
    walls: dict[str, float] = {}
    for k in range(n_seeds):
        log(f"seed audit {k + 1}/{n_seeds}")
        walls[f"seed-{k}"] = gap(["--attr", "fitzpatrick", "--seed", str(k)], out / f"seed-{k:02d}")
    for i in range(n_null):
        log(f"null audit {i + 1}/{n_null}")
        data = coin_dataset(source, out / "data" / f"coin-{i:03d}", i)
        args = ["--data", str(data), "--attr", "coin", "--repeats", str(NULL_REPEATS), "--epochs", str(NULL_EPOCHS),
                "--seed", str(i)]
        for n in NULL_NORMALIZERS:
            args += ["--normalizer", n]
        walls[f"null-{i}"] = gap(args, out / f"null-{i:03d}", env)
    timings = out / "timings.json"
    old = json.loads(timings.read_text()) if timings.exists() else {}
    timings.write_text(json.dumps({**old, **{k: v for k, v in walls.items() if v}}, indent=1))


# ---------------------------------------------------------------------------------------------------------------
# analysis: every statistic recomputed from results.parquet with the installed auditkit
# ---------------------------------------------------------------------------------------------------------------

DELTAS = (0.03, 0.05, 0.08)
BEGIN_BLOCK = "calibration"


def _audits(out: Path, prefix: str) -> list[Path]:
    return sorted(p for p in out.glob(f"{prefix}-*") if finished(p))


def _row(kind: str, statistic: str, p: float, low: float, high: float, truth: float = 0.0) -> dict:
    return {"kind": kind, "statistic": statistic, "reject": bool(p < 0.05) if p == p else np.nan,
            "covers": bool(low <= truth <= high) if low == low else np.nan, "tested": p == p}


def _people_only(values: pd.DataFrame, a: str, b: str) -> tuple[float, float, float]:
    """The previous release's between-group statistics: permutation p and percentile bootstrap CI over subjects."""
    from auditkit.stats import bootstrap_diff_ci, permutation_p

    means = values.groupby(["test_group", "subject"], observed=True)["score"].mean()
    va, vb = means.loc[a].to_numpy(), means.loc[b].to_numpy()
    lo, hi = bootstrap_diff_ci(va, vb)
    return permutation_p(va, vb), lo, hi


def null_rows(audit: Path) -> list[dict]:
    """Every null statistic of one coin audit: gaps, the heads-tails difference, jitter's changes, error rates."""
    from auditkit.report.tables import audit_tables
    from auditkit.stats import CROSSED_TEST, SUBJECT_TEST
    from auditkit.stats.disparities import subject_metrics

    results = pd.read_parquet(audit / "results.parquet")
    tables = audit_tables(results)
    rows = []
    t = tables.tests
    for _, r in t[t["comparison"].str.startswith("within vs cross")].iterrows():
        where = "overall" if r["test_group"] == "all" else "per group"
        if r["test"] == CROSSED_TEST:
            rows.append(_row("gap", f"gap ({where})", r["p"], r["ci_low"], r["ci_high"]))
        elif r["test"] == SUBJECT_TEST:
            rows.append(_row("gap, people only", f"gap ({where})", r["p"], r["ci_low"], r["ci_high"]))
    for _, r in t[t["comparison"].str.contains("gap change") & (t["test"] == CROSSED_TEST)].iterrows():
        where = "overall" if r["test_group"] == "all" else "per group"
        rows.append(_row("normalizer change", f"change in the gap ({where})", r["p"], r["ci_low"], r["ci_high"]))
    for _, r in t[t["comparison"].isin(["jitter vs none (within)", "jitter vs none (cross)"])].iterrows():
        if r["test"] == CROSSED_TEST:
            rows.append(_row("normalizer change", "score change (within, cross)", r["p"], r["ci_low"], r["ci_high"]))
    summary = tables.disparity_summary[tables.disparity_summary["au"] == "all"]
    for _, r in summary.iterrows():
        rows.append(_row("difference", "heads - tails (all AUs)", r["p"], r["difference_ci_low"],
                         r["difference_ci_high"]))
    per_au = tables.disparity_summary[tables.disparity_summary["au"] != "all"]
    rows += [_row("difference", "heads - tails (per AU)", r["p"], np.nan, np.nan) for _, r in per_au.iterrows()]
    cells = subject_metrics(results, by_repetition=True)
    for norm in NULL_NORMALIZERS:
        part = cells[(cells["normalizer"] == norm) & (cells["au"] == "all")]
        p, lo, hi = _people_only(part, "heads", "tails")
        rows.append(_row("difference, people only", "heads - tails (all AUs)", p, lo, hi))
    for _, r in tables.disparity_changes.iterrows():
        rows.append(_row("normalizer change", "change in heads - tails", r["p"], r["change_ci_low"],
                         r["change_ci_high"]))
    rates = tables.error_rate_differences
    for _, r in rates[rates["au"] == "all"].iterrows():
        rows.append(_row("error rate", f"{r['rate'].replace('_', ' ')} difference", r["p"], r["difference_ci_low"],
                         r["difference_ci_high"]))
    return rows


def compare_rows(audit: Path) -> list[dict]:
    """`compare` of the audit's two normalizers (none and jitter: one configuration, its own trainings)."""
    from auditkit.protocol.comparison import _entries, _read, build_comparison

    run, results = _read(audit)
    comparison = build_comparison(_entries(audit, run, results, audit.name))
    return [_row("compare", f"{r['quantity']} (none vs jitter)", r["p"], r["ci_low"], r["ci_high"])
            for _, r in comparison.tables.pairs.iterrows()]


def power_rows(audit: Path) -> list[dict]:
    """Planted effects on the audit's real results: found or not, and the rate its own SE predicts."""
    from scipy import stats as sps

    from auditkit.stats import CROSSED_TEST, gap_tests
    from auditkit.stats.disparities import disparity_changes, pairwise, subject_metrics
    from auditkit.stats.metrics import subject_scores

    results = pd.read_parquet(audit / "results.parquet")
    none = results[results["normalizer"] == "none"]
    heads = none["test_group"] == "heads"
    rows = []

    def predicted(se: float, dof: float, delta: float) -> float:
        if not (se == se and dof == dof) or se <= 0:
            return np.nan
        q = sps.t.ppf(0.975, dof)
        return float(sps.t.sf(q - delta / se, dof) + sps.t.cdf(-q - delta / se, dof))

    def shifted(rows_: pd.DataFrame, mask: pd.Series, delta: float) -> pd.DataFrame:
        out = rows_.copy()
        out.loc[mask, "f1"] += delta
        out.loc[mask, "accuracy"] += delta
        return out

    for delta in DELTAS:
        cells = subject_metrics(shifted(none, heads, delta), by_repetition=True)
        pair = pairwise(cells[cells["au"] == "all"])[0]
        sign = 1.0 if pair["group_a"] == "heads" else -1.0
        rows.append({"effect": "a group's scores shifted", "delta": delta, "found": pair["p"] < 0.05,
                     "predicted": predicted(pair["se"], pair["dof"], delta), "estimate": sign * pair["difference"]})
        within_heads = heads & (none["condition"] == "within")
        scores = subject_scores(shifted(none, within_heads, delta), ["normalizer", "condition", "train_group",
                                                                      "test_group", "repetition"])
        t = gap_tests(scores)
        g = t[(t["test"] == CROSSED_TEST) & (t["test_group"] == "heads")
              & t["comparison"].str.startswith("within vs cross")].iloc[0]
        rows.append({"effect": "a gap planted in one group", "delta": delta, "found": g["p"] < 0.05,
                     "predicted": predicted(g["se"], g["dof"], delta), "estimate": g["diff"]})
        lowered = results["normalizer"].eq("jitter") & results["test_group"].eq("heads")
        change = disparity_changes(shifted(results, lowered, -delta)).iloc[0]
        rows.append({"effect": "a normalizer that lowers one group", "delta": delta, "found": change["p"] < 0.05,
                     "predicted": predicted(change["se"], change["dof"], delta), "estimate": change["change"]})
    return rows


def seed_rows(audits: list[Path]) -> tuple[pd.DataFrame, list[dict]]:
    """Per seed audit: the overall gap and the darker - lighter difference with their intervals; and `compare` of
    disjoint pairs of seeds (one configuration, other draws and trainings)."""
    from auditkit.protocol.comparison import build_comparison, load_models
    from auditkit.report.tables import audit_tables, headline

    rows = []
    for audit in audits:
        tables = audit_tables(pd.read_parquet(audit / "results.parquet"))
        gap = headline(tables, "none").set_index("test_group").loc["all"]
        pair = tables.disparity_summary.query("au == 'all' and normalizer == 'none'").iloc[0]
        rows.append({"seed": audit.name, "gap": gap["gap"], "gap_low": gap["ci_low"], "gap_high": gap["ci_high"],
                     "gap_p": gap["p_holm"], "gap_p_paper": gap["p_paper"], "difference": pair["difference"],
                     "difference_low": pair["difference_ci_low"], "difference_high": pair["difference_ci_high"],
                     "difference_p": pair["p"]})
    compared = []
    for a, b in zip(audits[0::2], audits[1::2], strict=False):
        comparison = build_comparison(load_models([a, b]))
        compared += [_row("compare", f"{r['quantity']} (seed vs seed)", r["p"], r["ci_low"], r["ci_high"])
                     for _, r in comparison.tables.pairs.iterrows()]
    return pd.DataFrame(rows), compared


def _rate(values: pd.Series) -> str:
    values = values.dropna()
    return f"{100 * values.mean():.1f} %" if len(values) else "n/a"


def write_tables(out: Path, readme: Path | None) -> str:
    """The calibration tables (markdown) from the finished audits under `out`; into the README block if asked."""
    nulls, seeds = _audits(out, "null"), _audits(out, "seed")
    log(f"tabulating {len(nulls)} null audits and {len(seeds)} seed audits")
    rows, planted = [], []
    for i, audit in enumerate(nulls):
        rows += null_rows(audit) + compare_rows(audit)
        planted += power_rows(audit)
        if (i + 1) % 10 == 0:
            log(f"  {i + 1}/{len(nulls)}")
    seed_table, compared = seed_rows(seeds)
    table = pd.DataFrame(rows + compared)
    lines = [f"(a) **Null calibration on real audits**: {len(nulls)} coin-attribute audits (`--attr coin`, groups "
             f"drawn at random among the skin-type audit's subjects, {NULL_REPEATS} repetitions, `none` beside "
             "`jitter`, a normalizer with no systematic effect and its own trainings) and, for `compare`, disjoint "
             f"pairs of the {len(seeds)} seed audits below. Nothing is true here: each test should reject about 5 % "
             "(bar: 5 ± 3 %) and each 95 % interval cover the truth, 0, at least 92 %. \"people only\" rows are the "
             "previous release's statistics (the paper's subject t-test; a permutation p and bootstrap CI over "
             "subjects) on the same audits.", "",
             "| statistic | kind | tests | rejects (p < 0.05) | interval covers 0 |", "|---|---|---|---|---|"]
    for (kind, statistic), part in table.groupby(["kind", "statistic"], sort=False):
        tested = part[part["tested"]]
        lines.append(f"| {statistic} | {kind} | {len(tested)} | {_rate(tested['reject'].astype(float))} | "
                     f"{_rate(tested['covers'].astype(float))} |")
    if len(seed_table):
        mean_gap, mean_diff = seed_table["gap"].mean(), seed_table["difference"].mean()
        cover_gap = ((seed_table["gap_low"] <= mean_gap) & (mean_gap <= seed_table["gap_high"])).mean()
        cover_diff = ((seed_table["difference_low"] <= mean_diff) & (mean_diff <= seed_table["difference_high"])).mean()
        lines += ["", f"(b) **Re-run stability**: the default audit (`auditkit gap --attr fitzpatrick --seed N`) at "
                  f"{len(seed_table)} seeds. Over the seeds the overall gap is {100 * mean_gap:+.1f} ± "
                  f"{100 * seed_table['gap'].std():.1f} points (mean ± sd) and the darker − lighter difference "
                  f"{100 * mean_diff:+.1f} ± {100 * seed_table['difference'].std():.1f}. Bar: each seed's 95 % "
                  "interval covers the seeds' mean in at least 90 % of seeds.", "",
                  "| quantity | seeds' mean ± sd | mean interval half-width | seeds whose interval covers the mean | "
                  "significant (Holm) | significant, paper's test |", "|---|---|---|---|---|---|",
                  f"| overall gap | {100 * mean_gap:+.1f} ± {100 * seed_table['gap'].std():.1f} | "
                  f"{100 * ((seed_table['gap_high'] - seed_table['gap_low']) / 2).mean():.1f} | "
                  f"{100 * cover_gap:.0f} % | {100 * (seed_table['gap_p'] < 0.05).mean():.0f} % | "
                  f"{100 * (seed_table['gap_p_paper'] < 0.05).mean():.0f} % (uncorrected) |",
                  f"| darker − lighter | {100 * mean_diff:+.1f} ± {100 * seed_table['difference'].std():.1f} | "
                  f"{100 * ((seed_table['difference_high'] - seed_table['difference_low']) / 2).mean():.1f} | "
                  f"{100 * cover_diff:.0f} % | {100 * (seed_table['difference_p'] < 0.05).mean():.0f} % | — |"]
    power = pd.DataFrame(planted)
    if len(power):
        lines += ["", f"(c) **Power**: effects planted into the {len(nulls)} null audits' real results (scores of "
                  "`heads` subjects shifted; within-group scores on `heads` shifted; `jitter` lowering `heads`), found "
                  "(p < 0.05) against the rate predicted from each audit's own standard error and degrees of freedom "
                  "(the power formula behind the reports' \"detectable at 80 % power\").", "",
                  "| planted effect | size (points) | found | predicted | mean estimate |", "|---|---|---|---|---|"]
        for (effect, delta), part in power.groupby(["effect", "delta"], sort=False):
            lines.append(f"| {effect} | {100 * delta:.0f} | {_rate(part['found'].astype(float))} | "
                         f"{_rate(part['predicted'])} | {100 * part['estimate'].abs().mean():.1f} |")
    timings = out / "timings.json"
    if timings.exists():
        walls = json.loads(timings.read_text())
        null_walls = [v for k, v in walls.items() if k.startswith("null")]
        seed_walls = [v for k, v in walls.items() if k.startswith("seed")]
        if null_walls and seed_walls:
            lines += ["", f"Wall time on this machine's 2 cores: a coin audit {np.median(null_walls):.0f} s, a seed "
                      f"audit {np.median(seed_walls):.0f} s (medians; `python benchmarks/bench_calibration.py run`)."]
    body = "\n".join(lines) + "\n"
    (out / "calibration.md").write_text(body)
    print(body)
    if readme is not None:
        sys.path.insert(0, str(HERE))
        from readme_figures import replace_block

        readme.write_text(replace_block(readme.read_text(), BEGIN_BLOCK, body))
    return body


def main() -> None:
    """Command line: run the audits, or tabulate them."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("step", choices=["run", "table"])
    parser.add_argument("--out", type=Path, default=Path("audits/calibration"))
    parser.add_argument("--null", type=int, default=60, help="coin-attribute audits (experiment a, c)")
    parser.add_argument("--seeds", type=int, default=12, help="seeds of the default audit (experiment b)")
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    if args.step == "run":
        run(args.out, args.null, args.seeds)
    else:
        write_tables(args.out, README if args.update_readme else None)


if __name__ == "__main__":
    main()
