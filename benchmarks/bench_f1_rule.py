"""Benchmark: how the rule for an undefined per-subject F1 moves an audit's numbers.

A subject who neither shows nor is predicted to show an AU has no F1. auditkit can score that case 1.0 (`one`),
leave it out (`exclude`: F1 and score not averaged, accuracy kept) or score it 0.0 (`zero`). This script runs the real
default audits (`auditkit gap --attr SPLIT --normalizer oracle`, resumable), then re-scores their results under each
rule (metrics.rescore_f1: exact for the test scores; model selection on the validation set is left as it ran) and
writes, per split and rule: how many (subject, AU) pairs are undefined, how bimodal per-subject F1 is (share of pairs
at exactly 0 or 1), within/cross scores, the gap and its p, the between-group difference and its p.

Run:  python benchmarks/bench_f1_rule.py [--out audits/f1-rule] [--splits fitzpatrick,gender,dataset] [--update-readme]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_replication import log, run_split  # noqa: E402  (the same real command, timing and resume)

README = Path(__file__).resolve().parent / "README.md"
BEGIN, END = "<!-- f1-rule:begin -->", "<!-- f1-rule:end -->"
RULES = ("one", "exclude", "zero")


def rule_rows(split: str, audit: Path) -> list[dict]:
    """Per normalizer and rule: undefined pairs, F1 bimodality, within/cross, gap and p, the disparity and its p."""
    from auditkit.report.render import load_run
    from auditkit.report.tables import audit_tables, condition_means, headline
    from auditkit.stats.metrics import rescore_f1

    results, run = load_run(audit)
    seed = int(run["config"]["seed"])
    undefined = (results["positives"] == 0) & (results["f1"] != 0)
    rows = []
    for rule in RULES:
        rescored = rescore_f1(results, rule)
        tables = audit_tables(rescored, seed)
        means = condition_means(tables.conditions)
        f1 = rescored["f1"].dropna()
        for norm in run["config"]["normalizers"]:
            overall = headline(tables, norm).set_index("test_group").loc["all"]
            pairs = tables.disparity_summary.query("normalizer == @norm and au == @ALL_AUS")
            first = pairs.iloc[0] if len(pairs) else None
            rows.append({"split": split, "rule": rule, "normalizer": norm, "undefined": float(undefined.mean()),
                         "bimodal": float(((f1 == 0) | (f1 == 1)).mean()), "within": means.loc[norm, "within"],
                         "cross": means.loc[norm, "cross"], "gap": overall["gap"], "p": overall["p"],
                         "comparison": first["comparison"] if first is not None else "",
                         "difference": first["difference"] if first is not None else float("nan"),
                         "p_difference": first["p"] if first is not None else float("nan")})
    return rows


def _p(p: float) -> str:
    return "n/a" if p != p else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def markdown(rows: list[dict], command: str) -> str:
    """The table the README block holds."""
    lines = [
        f"Produced by `{command}`; scores in %, gap = within − cross, difference = first group − second "
        "(all test subjects, permutation p).",
        "",
        "| split | normalizer | rule | undefined pairs | F1 at 0 or 1 | within | cross | gap (p) | difference (p) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['split']} | {r['normalizer']} | {r['rule']} | {100 * r['undefined']:.1f} % | "
                     f"{100 * r['bimodal']:.1f} % | {100 * r['within']:.1f} | {100 * r['cross']:.1f} | "
                     f"{100 * r['gap']:+.1f} ({_p(r['p'])}) | {r['comparison']}: {100 * r['difference']:+.1f} "
                     f"({_p(r['p_difference'])}) |")
    return "\n".join(lines)


def main() -> None:
    """Run (or resume) the audits, re-score them under each rule, write OUT/f1_rules.md (and the README block)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("audits/f1-rule"))
    parser.add_argument("--splits", default="fitzpatrick,gender,dataset")
    parser.add_argument("--normalizers", default="none,oracle")
    parser.add_argument("--jobs", type=int, default=-1)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--update-readme", action="store_true")
    args = parser.parse_args()
    normalizers = tuple(n for n in args.normalizers.split(",") if n)
    rows, start = [], time.perf_counter()
    for split in args.splits.split(","):
        audit = args.out / split
        timing = run_split(split, args.data, audit, normalizers, "default", args.jobs)
        log(f"{split}: {timing['wall_s']} s, peak {timing['peak_rss_mib']} MiB")
        rows += rule_rows(split, audit)
    command = f"python benchmarks/bench_f1_rule.py --splits {args.splits} --normalizers {args.normalizers}"
    table = markdown(rows, command)
    (args.out / "f1_rules.md").write_text(table + "\n")
    pd.DataFrame(rows).to_csv(args.out / "f1_rules.csv", index=False)
    print(table)
    log(f"done in {time.perf_counter() - start:.0f} s")
    if args.update_readme:
        text = README.read_text()
        if BEGIN not in text:
            raise SystemExit(f"{README}: no {BEGIN} block to replace")
        head, rest = text.split(BEGIN, 1)
        README.write_text(f"{head}{BEGIN}\n{table}\n{END}{rest.split(END, 1)[1]}")


if __name__ == "__main__":
    main()
