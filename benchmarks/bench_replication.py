"""Benchmark: the paper's Table 5 replicated on the synthetic default, against the oracle's ceiling.

Runs the real command, `auditkit gap --attr SPLIT --normalizer histeq --normalizer deepfn --normalizer oracle`, for the
paper's four splits (person, gender, fitzpatrick, dataset) with the default preset, then writes a Table 5-shaped
markdown beside the paper's numbers: per split and normalizer the within and cross mean ± std over subjects, the gap,
both p-values, and the share of the oracle's gain.

Run:  python benchmarks/bench_replication.py [--data DIR] [--out audits/replication] [--seeds 0,1,2] [--update-readme]

With several --seeds each split is run once per seed (`auditkit gap --seed N`: other subject draws, other LeNet-5
and DeepFN fits; seed 0 in OUT/SPLIT, the others in OUT/seed-N/SPLIT), and a second table gives each normalizer's
share of the oracle's gain, overall and per test group, and its between-group disparity as mean ± sd over the seeds,
with mean − 2·sd/√n beside the share (the issue's bar: above 50 %).

Resumable: an interrupted split resumes where it stopped (the audit's own resume), finished splits are not run again,
and DeepFN's trained weights come from its weight cache (fitzpatrick, gender and person share one fit). Wall time and
peak memory of every invocation are kept in OUT/timings.json; the table is OUT/table5.md. With --update-readme the
table replaces the marked block in benchmarks/README.md, so the committed figures are always this script's output.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

SPLITS = ("person", "gender", "fitzpatrick", "dataset")
NORMALIZERS = ("none", "histeq", "deepfn", "oracle")
README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- replication:begin -->", "<!-- replication:end -->"

# Table 5 and section 5 of the paper (mean of F1 and accuracy, %): within = group-dependent, cross = -independent
PAPER = {
    "person": {"none": (60.3, 55.0), "deepfn": (61.4, 59.6)},
    "gender": {"none": (55.0, 52.6), "deepfn": (60.2, 57.7)},
    "fitzpatrick": {"none": (55.2, 49.9), "deepfn": (58.7, 57.4)},
    "dataset": {"none": (54.0, 44.6), "deepfn": (61.5, 51.1)},
}
SPLIT_LABELS = {"person": "person (dependent vs independent)", "gender": "gender (female / male)",
                "fitzpatrick": "skin type (I–II vs V–VI)", "dataset": "dataset (bp4d-like vs disfa-like, shared AUs)"}


def log(message: str) -> None:
    """Progress on stderr, with a timestamp."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def finished(audit: Path, normalizers: tuple[str, ...]) -> bool:
    """True when every training of every normalizer of the audit has its results part."""
    from auditkit.protocol.audit_dir import AuditDir

    folder = AuditDir(audit)
    tasks = folder.read_run(missing_ok=True, corrupt_ok=True).get("plan", {}).get("tasks")
    if not tasks:
        return False
    return all(all(folder.part(n, t["key"]).exists() for t in tasks) for n in normalizers) and folder.results.is_file()


def discard(audit: Path, normalizer: str) -> None:
    """Forget one normalizer's trainings and cached inputs in an audit, so the next run redoes them with today's
    code."""
    from auditkit.protocol.audit_dir import AuditDir

    AuditDir(audit).discard_normalizer(normalizer)
    log(f"{audit.name}: discarded {normalizer}'s results")


def run_split(split: str, data: Path | None, out: Path, normalizers: tuple[str, ...], preset: str, jobs: int,
              seed: int = 0) -> dict:
    """One `auditkit gap` run (or resume) of a split; wall seconds and the largest process's peak RSS."""
    cmd = [sys.executable, "-m", "auditkit", "gap", "--attr", split, "--out", str(out), "--preset", preset,
           "--jobs", str(jobs)]
    if seed:
        cmd += ["--seed", str(seed)]
    cmd += [a for n in normalizers if n != "none" for a in ("--normalizer", n)]
    if data is not None:
        cmd += ["--data", str(data)]
    log(f"{split}: {' '.join(cmd[2:])}")
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with open(out / "terminal.txt", "w") as terminal:
        proc = subprocess.Popen(cmd, stdout=terminal)  # progress bars stay on stderr, the summary goes to the file
        # wait4's rusage covers the command and every process it reaped (joblib's workers): the largest one's peak
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{split}: auditkit gap exited {code}; re-run this script to resume")
    return {"wall_s": round(wall, 1), "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
            "command": "auditkit " + " ".join(cmd[3:])}


def _per_subject(scores: pd.DataFrame, normalizer: str, condition: str) -> pd.Series:
    s = scores[(scores["normalizer"] == normalizer) & (scores["condition"] == condition)]
    return s.groupby("subject")["score"].mean()


def audit_path(out: Path, split: str, seed: int) -> Path:
    """Where one split's audit of one seed lives: OUT/SPLIT for seed 0 (as before seeds existed), else
    OUT/seed-N/SPLIT."""
    return out / split if seed == 0 else out / f"seed-{seed}" / split


@functools.lru_cache(maxsize=8)
def _audit_tables(audit: Path) -> tuple[dict, object]:
    """One finished audit's results, run record and report tables, computed once for every row builder below (a
    smoke audit's tables take seconds; split_rows and group_rows both read them)."""
    from auditkit.report.render import load_run
    from auditkit.report.tables import audit_tables

    results, run = load_run(audit)
    return run, audit_tables(results, int(run["config"]["seed"]))


def split_rows(split: str, audit: Path) -> list[dict]:
    """Table 5 rows of one finished audit: per normalizer within/cross mean ± std, gap, p-values, share of the ceiling,
    and the between-group difference of a two-group split (all AUs, every model that tested a subject), as scored
    and at equal base rates (auditkit.stats.base_rates)."""
    from auditkit.report.tables import ceiling_shares, headline
    from auditkit.stats import CROSSED_TEST
    from auditkit.stats.disparities import ALL_AUS

    run, tables = _audit_tables(audit.resolve())
    shares = ceiling_shares(tables.conditions, tables.ceiling).set_index("normalizer")
    summary = tables.disparity_summary
    pairs = summary[summary["au"] == ALL_AUS].set_index("normalizer") if len(summary) else pd.DataFrame()
    adjusted = tables.adjusted_summary.set_index("normalizer") if len(tables.adjusted_summary) else pd.DataFrame()
    tests = tables.tests
    changes = tests[(tests["test"] == CROSSED_TEST) & (tests["test_group"] == "all")].set_index("comparison")
    rows = []
    for norm in run["config"]["normalizers"]:
        within, cross = _per_subject(tables.scores, norm, "within"), _per_subject(tables.scores, norm, "cross")
        overall = headline(tables, norm).set_index("test_group").loc["all"]
        change = changes.loc[f"{norm} vs none (gap change)"] if f"{norm} vs none (gap change)" in changes.index else {}
        paper = PAPER[split].get(norm)
        rows.append(
            {
                "split": split,
                "normalizer": norm,
                "within": within.mean(),
                "within_std": within.std(),
                "cross": cross.mean(),
                "cross_std": cross.std(),
                "gap": overall["gap"],
                "gap_ci_low": overall["ci_low"],
                "gap_ci_high": overall["ci_high"],
                "p": overall["p"],
                "p_holm": overall["p_holm"],
                "p_paper": overall["p_paper"],
                "p_repetitions": overall["p_repetitions"],
                "repetitions": overall["repetitions"],
                **{
                    f"change{k}": float(change[c]) if len(change) else np.nan
                    for k, c in (
                        ("", "diff"),
                        ("_ci_low", "ci_low"),
                        ("_ci_high", "ci_high"),
                        ("_p", "p"),
                        ("_p_holm", "p_holm"),
                    )
                },
                "share_cross": shares["share_cross"].get(norm, np.nan),
                "share_all": shares["share_all"].get(norm, np.nan),
                "comparison": pairs["comparison"].get(norm) if len(pairs) and "comparison" in pairs else None,
                "difference": pairs["difference"].get(norm, np.nan) if len(pairs) else np.nan,
                "adjusted_difference": adjusted["difference"].get(norm, np.nan) if len(adjusted) else np.nan,
                "paper_within": paper[0] if paper else None,
                "paper_cross": paper[1] if paper else None,
            }
        )
    return rows


def group_rows(split: str, audit: Path) -> list[dict]:
    """Per normalizer (beside none and the oracle) and test group: its share of the oracle's cross-group gain there."""
    from auditkit.report.tables import group_ceiling_shares

    run, tables = _audit_tables(audit.resolve())
    shares = group_ceiling_shares(tables.conditions, tables.ceiling)
    if shares["test_group"].nunique() < 2:  # the person split has one test group: its overall share says it all
        return []
    return [{"split": split, **r} for r in shares.to_dict("records")]


def seed_rows(per_seed: dict[int, tuple[list[dict], list[dict]]]) -> list[dict]:
    """Per split and normalizer (none and the oracle aside): over the seeds, the share of the oracle's cross-group gain
    overall and per test group, and the between-group difference of none, the normalizer and the oracle (as scored and
    at equal base rates)."""
    rows = pd.DataFrame([r for split_rows_, _ in per_seed.values() for r in split_rows_])
    groups = pd.DataFrame([g for _, group_rows_ in per_seed.values() for g in group_rows_])
    out = []
    for (split, norm), r in rows.groupby(["split", "normalizer"], sort=False):
        if norm in ("none", "oracle") or len(r) < 2:  # a split run at one seed only has no spread to give
            continue
        base = rows[rows["split"] == split]
        entry = {"split": split, "normalizer": norm, "seeds": len(r), "share": _spread(r["share_cross"]),
                 "groups": {}, **{key: {n: _spread(base[base["normalizer"] == n].get(key, pd.Series(dtype=float)))
                                        for n in ("none", norm, "oracle")}
                                  for key in ("difference", "adjusted_difference")},
                 "comparison": r["comparison"].iloc[0] if isinstance(r["comparison"].iloc[0], str) else None}
        if len(groups):
            mine = groups[(groups["split"] == split) & (groups["normalizer"] == norm)]
            entry["groups"] = {g: _spread(s["share_cross"]) for g, s in mine.groupby("test_group")}
        out.append(entry)
    return out


def _spread(values: pd.Series) -> dict:
    """Mean, sample sd, n and mean − 2·sd/√n of one figure over seeds."""
    v = values.dropna().to_numpy(float)
    n = len(v)
    sd = float(v.std(ddof=1)) if n > 1 else np.nan
    return {"mean": float(v.mean()) if n else np.nan, "sd": sd, "n": n,
            "lower": float(v.mean() - 2 * sd / np.sqrt(n)) if n > 1 else np.nan}


def _pm(s: dict, scale: float = 100, signed: bool = False) -> str:
    if s["n"] == 0:
        return "n/a"
    mean = f"{scale * s['mean']:+.1f}" if signed else f"{scale * s['mean']:.0f}"
    return mean if s["n"] < 2 else f"{mean} ± {scale * s['sd']:.1f}"


def seeds_markdown(rows: list[dict], seeds: list[int]) -> str:
    """The over-seeds table: shares (overall, per test group) and the between-group difference, mean ± sd."""
    lines = [
        f"Over seeds {', '.join(map(str, seeds))} (`auditkit gap --seed N`: other subject draws, LeNet-5 and "
        "DeepFN fits): share of the oracle's cross-group gain, % (mean ± sd; lower = mean − 2·sd/√n), per test "
        "group too; difference = the between-group difference of the mean score, points (none / normalizer / "
        "oracle), as scored and at equal base rates (each subject's hit and false-alarm rates per AU rescored at "
        "the AU's pooled base rate: auditkit.stats.base_rates).",
        "",
        "| split | normalizer | seeds | share | lower | share per test group | difference (none / normalizer / oracle) "
        "| at equal base rates |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lower = "n/a" if r["share"]["lower"] != r["share"]["lower"] else f"{100 * r['share']['lower']:.0f}"
        per_group = "; ".join(f"{g} {_pm(s)}" for g, s in r["groups"].items()) or "—"
        diff, adjusted = ("—" if r["comparison"] is None or key not in r else " / ".join(
            _pm(r[key][n], signed=True) for n in ("none", r["normalizer"], "oracle"))
            for key in ("difference", "adjusted_difference"))
        diff = diff if r["comparison"] is None else f"{r['comparison']}: {diff}"
        lines.append(f"| {SPLIT_LABELS[r['split']]} | {r['normalizer']} | {r['seeds']} | {_pm(r['share'])} | {lower} | "
                     f"{per_group} | {diff} | {adjusted} |")
    return "\n".join(lines) + "\n"


def _p(p: float) -> str:
    return "n/a" if p != p else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _share(norm: str, value: float) -> str:
    if norm == "none":
        return "0 %"
    if norm == "oracle":
        return "100 %"
    return "n/a" if value != value else f"{round(100 * value)} %"  # round(): never "-0 %"


def markdown(rows: list[dict], timings: dict, preset: str, groups: list[dict] | None = None) -> str:
    """The Table 5-shaped markdown, with the paper's numbers beside ours and how long each split took."""
    from auditkit.data.synth.default import PERSON_FRAMES

    lines = [f"Synthetic defaults: 68 subjects × 300 frames; the person split's: 41 BP4D-like subjects × "
             f"{PERSON_FRAMES:,} frames (bench_person_split.py says why). Preset `{preset}`, {os.cpu_count()} CPU "
             "cores. Score = mean of F1 and accuracy (%); within / cross = mean ± std over test subjects; gap = "
             "within − cross on the subjects and repetitions both scored, with its 95 % interval and p (Holm over the "
             "audit's gap tests) from the subject × training inference (auditkit.stats.crossed: people and trainings "
             "both vary), beside the paper's two-sample t-test on subjects; change = the normalizer's change to the "
             "gap against `none`, paired by person and repetition, with its own interval and Holm p; share = (N − "
             "none) / (oracle − none) in cross-group score / in the mean over all train → test rows. Paper: Table 5 "
             "and section 5 (DeepFN rows: the paper's DeepFN; the oracle is not in the paper).", "",
             "| split | normalizer | within | cross | gap (95 % CI) | p (Holm) | p, paper's test | change in the gap "
             "vs none (95 % CI) | p (Holm) | share (cross / mean) | paper within | paper cross | paper gap |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        paper = ("—", "—", "—") if r["paper_within"] is None else (
            f"{r['paper_within']:.1f}", f"{r['paper_cross']:.1f}", f"{r['paper_within'] - r['paper_cross']:+.1f}")
        change = "—" if r.get("change") != r.get("change") or r["normalizer"] == "none" else (
            f"{100 * r['change']:+.1f} ({100 * r['change_ci_low']:+.1f}, {100 * r['change_ci_high']:+.1f})")
        change_p = "—" if change == "—" else _p(r["change_p_holm"])
        lines.append(f"| {SPLIT_LABELS[r['split']]} | {r['normalizer']} | "
                     f"{100 * r['within']:.1f} ± {100 * r['within_std']:.1f} | "
                     f"{100 * r['cross']:.1f} ± {100 * r['cross_std']:.1f} | {100 * r['gap']:+.1f} "
                     f"({100 * r['gap_ci_low']:+.1f}, {100 * r['gap_ci_high']:+.1f}) | {_p(r['p_holm'])} | "
                     f"{_p(r['p_paper'])} | {change} | {change_p} | {_share(r['normalizer'], r['share_cross'])} / "
                     f"{_share(r['normalizer'], r['share_all'])} | {paper[0]} | {paper[1]} | {paper[2]} |")
    if groups:
        lines += [
            "",
            "Share of the oracle's cross-group gain per test group (cross-group score on the group: none → "
            "normalizer, oracle; share = (N − none) / (oracle − none)):",
            "",
            "| split | normalizer | test group | none → normalizer | oracle | share |",
            "|---|---|---|---|---|---|",
        ]
        lines += [
            f"| {SPLIT_LABELS[g['split']]} | {g['normalizer']} | {g['test_group']} | {100 * g['none']:.1f} → "
            f"{100 * g['cross']:.1f} | {100 * g['ceiling_score']:.1f} | {_share(g['normalizer'], g['share_cross'])} |"
            for g in groups
        ]
    lines += ["", "| split | wall (all invocations) | peak RSS (largest process) |", "|---|---|---|"]
    for split, t in timings["splits"].items():
        wall = sum(i["wall_s"] for i in t["invocations"])
        note = (
            f" ({len(t['invocations'])} invocations: resumed, or a normalizer re-run)"
            if len(t["invocations"]) > 1
            else ""
        )
        peak = max(i["peak_rss_mib"] for i in t["invocations"])
        name = split.replace("@seed-", " (seed ") + (")" if "@seed-" in split else "")
        lines.append(f"| {name} | {wall / 60:.1f} min{note} | {peak / 1024:.1f} GiB |")
    total = sum(i["wall_s"] for t in timings["splits"].values() for i in t["invocations"])
    lines.append(f"| all | {total / 60:.1f} min | |")
    return "\n".join(lines) + "\n"


def update_readme(table: str, command: str) -> None:
    """Replace the marked block of benchmarks/README.md with this run's table."""
    text = README.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"{README}: no {BEGIN} ... {END} block to update")
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{BEGIN}\n`{command}`\n\n{table}{END}{tail}")


def main() -> None:
    """Run or resume the four splits, then print and store the table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="dataset directory (default: the synthetic default)")
    parser.add_argument("--out", type=Path, default=Path("audits/replication"))
    parser.add_argument("--splits", default=",".join(SPLITS))
    parser.add_argument("--normalizers", default=",".join(NORMALIZERS))
    parser.add_argument("--preset", default="default")
    parser.add_argument("--seeds", default="0", help="comma-separated seeds; each split is run once per seed")
    parser.add_argument("--seed-splits", default=None,
                        help="the splits run at every seed (default: all of --splits); the others run at the first")
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--update-readme", action="store_true", help="write the table into benchmarks/README.md")
    parser.add_argument("--rerun", action="append", default=[], metavar="NORMALIZER",
                        help="discard one normalizer's results and inputs in every split first (after changing it)")
    args = parser.parse_args()
    try:
        seeds = sorted({int(s) for s in args.seeds.split(",") if s.strip()})
    except ValueError:
        raise SystemExit(f"--seeds: expected comma-separated integers, got {args.seeds!r}") from None
    if not seeds or min(seeds) < 0:
        raise SystemExit(f"--seeds: expected non-negative integers, got {args.seeds!r}")
    splits = tuple(s for s in args.splits.split(",") if s)
    seed_splits = splits if args.seed_splits is None else tuple(s for s in args.seed_splits.split(",") if s)
    if not set(seed_splits) <= set(splits):
        raise SystemExit(f"--seed-splits: {', '.join(sorted(set(seed_splits) - set(splits)))} not in --splits")
    normalizers = tuple(dict.fromkeys(("none",) + tuple(n for n in args.normalizers.split(",") if n)))
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise SystemExit(f"--splits: unknown split(s) {', '.join(unknown)} (choose from {', '.join(SPLITS)})")
    args.out.mkdir(parents=True, exist_ok=True)
    timings_path = args.out / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.is_file() else {"splits": {}}
    runs = [(seed, split) for seed in seeds for split in (splits if seed == seeds[0] else seed_splits)]
    for seed, split in runs:
        for norm in args.rerun:
            discard(audit_path(args.out, split, seed), norm)
    for i, (seed, split) in enumerate(runs):
        audit = audit_path(args.out, split, seed)
        name = split if seed == 0 else f"{split} (seed {seed})"
        if finished(audit, normalizers):
            log(f"{name}: finished earlier, skipped ({i + 1}/{len(runs)})")
            continue
        record = run_split(split, args.data, audit, normalizers, args.preset, args.jobs, seed)
        key = split if seed == 0 else f"{split}@seed-{seed}"  # seed 0 keeps the key it had before seeds existed
        entry = timings["splits"].setdefault(key, {"invocations": []})
        entry["invocations"].append(record)
        timings["cpus"] = os.cpu_count()
        timings_path.write_text(json.dumps(timings, indent=2) + "\n")
        log(f"{name}: done in {record['wall_s'] / 60:.1f} min ({i + 1}/{len(runs)})")
    run_splits = {seed: [split for s, split in runs if s == seed] for seed in seeds}
    per_seed = {seed: ([r for split in run_splits[seed] for r in split_rows(split, audit_path(args.out, split, seed))],
                       [g for split in run_splits[seed] for g in group_rows(split, audit_path(args.out, split, seed))])
                for seed in seeds}
    rows, groups = per_seed[seeds[0]]
    keys = [split if seed == 0 else f"{split}@seed-{seed}" for seed, split in runs]
    table = markdown(rows, {"splits": {k: timings["splits"][k] for k in keys if k in timings["splits"]}}, args.preset,
                     groups)
    if len(seeds) > 1:
        over = seed_rows(per_seed)
        table += "\n" + seeds_markdown(over, seeds)
        (args.out / "seeds.json").write_text(json.dumps(over, indent=2) + "\n")
    (args.out / "table5.md").write_text(table)
    pd.DataFrame(rows).to_csv(args.out / "table5.csv", index=False)
    print(table)
    if args.update_readme:
        seeds_flag = f" --seeds {','.join(map(str, seeds))}" if len(seeds) > 1 else ""
        if normalizers != tuple(dict.fromkeys(("none",) + NORMALIZERS)):
            seeds_flag = f" --normalizers {','.join(normalizers)}" + seeds_flag
        if len(seeds) > 1 and args.seed_splits is not None:
            seeds_flag += f" --seed-splits {','.join(seed_splits)}"
        update_readme(table, f"python benchmarks/bench_replication.py{seeds_flag} --update-readme")
        log(f"updated {README}")


if __name__ == "__main__":
    main()
