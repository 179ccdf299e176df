"""Regenerate the figures the README quotes from real runs, so the front door never shows stale numbers.

1. Quick start: runs `auditkit gap --attr fitzpatrick` exactly as a new user does — on a fresh cache (it renders the
   synthetic default first) — measuring wall time and peak memory, and pastes its terminal summary and timing into
   the README's `quickstart` block.
2. DeepFN: copies the short Table 5 (fitzpatrick and gender rows of none, deepfn and oracle) from the replication
   benchmark's finished audits (`benchmarks/bench_replication.py`) into the README's `replication-short` block, and
   writes its plain reading (shares, gaps, the darker/lighter difference) into the `deepfn-verdict` block.
3. docs/report.png: the replication's fitzpatrick report (none, deepfn, oracle) in headless Chromium.
4. The DeepFN audit's wall time and memory on a fresh cache (its DeepFN fit included): the `deepfn-timing` block.
5. docs/report-smoke.png: the report of a smoke run (`auditkit gap --attr fitzpatrick --preset smoke --normalizer
   oracle`), to show what an underpowered run says about itself.

Run:  python benchmarks/readme_figures.py [--replication audits/replication] [--skip-quickstart]
Re-run it (and the replication benchmark) whenever results change.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def replace_block(text: str, name: str, body: str) -> str:
    """Replace what lies between <!-- name:begin --> and <!-- name:end --> (markers kept)."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    if not pattern.search(text):
        raise SystemExit(f"no {begin} ... {end} block to replace")
    return pattern.sub(lambda _: f"{begin}\n{body}{end}", text)


def duration(seconds: float) -> str:
    """'55 s' under a minute, else '7 min 20 s'."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{rest} s" if minutes == 0 else f"{minutes} min {rest:02d} s"


def timed(args: list[str], out: Path) -> tuple[str, float, float]:
    """Run `auditkit ARGS --out OUT` on a fresh cache (dataset rendered, no DeepFN weights) into an emptied OUT
    (a previous run's results there would be resumed, not recomputed): stdout, wall s, peak RSS GiB."""
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    args = [*args, "--out", str(out)]
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "AUDITKIT_CACHE": cache, "COLUMNS": "100"}
        cmd = [sys.executable, "-m", "auditkit", *args]
        print(f"running: auditkit {' '.join(args)} (fresh cache)", file=sys.stderr, flush=True)
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, text=True)
        stdout = proc.stdout.read()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"auditkit {' '.join(args)} failed")
    return stdout, wall, usage.ru_maxrss / 1024 / 1024


def deepfn_timing(out: Path) -> str:
    """The DeepFN audit a user runs first, timed on a fresh cache (its DeepFN fit included), as markdown."""
    _, wall, peak = timed(["gap", "--attr", "fitzpatrick", "--normalizer", "deepfn"], out)
    return (
        f"`auditkit gap --attr fitzpatrick --normalizer deepfn` on a fresh cache (rendering the dataset and fitting "
        f"DeepFN included): **{duration(wall)}** on {os.cpu_count()} CPU cores, peak memory {peak:.1f} GiB "
        "(`python benchmarks/readme_figures.py`).\n"
    )


def quickstart(out: Path, calibration: Path | None = None) -> str:
    """Run the quick-start command on a fresh cache; its terminal summary and cost, and how far a re-run with another
    seed lands (from the calibration benchmark's seed audits, when given), as markdown."""
    stdout, wall, peak = timed(["gap", "--attr", "fitzpatrick"], out)
    summary = stdout.split("report:")[0].rstrip()
    summary = "\n".join(line.rstrip() for line in summary.splitlines())
    return (f"On {os.cpu_count()} CPU cores this took **{duration(wall)}** in all, peak memory "
            f"{peak:.1f} GiB (`python benchmarks/readme_figures.py`, fresh cache: it includes "
            f"rendering the dataset). The terminal summary:\n\n```\n{summary}\n```\n"
            + rerun_sentence(calibration))


def rerun_sentence(calibration: Path | None) -> str:
    """How far a re-run with another --seed (other draws and trainings; another CPU's rounding is smaller) lands from
    the quick start's figures, from bench_calibration.py's seed audits; '' without them."""
    if calibration is None or not calibration.is_dir():
        return ""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_calibration import _audits, seed_rows

    table, _ = seed_rows(_audits(calibration, "seed"))
    if len(table) < 3:
        return ""
    gap_sig = (table["gap_p"] < 0.05).mean()
    diff_sig = (table["difference_p"] < 0.05).mean()
    covered = ((table["gap_low"] <= table["gap"].mean()) & (table["gap"].mean() <= table["gap_high"])).mean()
    return (f"\nHow far a re-run lands: over {len(table)} seeds (`--seed 0` to `{len(table) - 1}`: other draws and "
            f"trainings) the overall gap was {100 * table['gap'].mean():+.1f} ± {100 * table['gap'].std():.1f} points "
            f"(mean ± sd; from {100 * table['gap'].min():+.1f} to {100 * table['gap'].max():+.1f}) and the darker − "
            f"lighter difference {100 * table['difference'].mean():+.1f} ± {100 * table['difference'].std():.1f} "
            f"(from {100 * table['difference'].min():+.1f} to {100 * table['difference'].max():+.1f}); "
            f"{100 * covered:.0f} % of the seeds' 95 % intervals held the seeds' mean. The overall gap was significant "
            f"(after Holm) at {100 * gap_sig:.0f} % of the seeds, the difference at {100 * diff_sig:.0f} %: a verdict "
            "near the line can flip with the seed, and the intervals say so "
            "([calibration](benchmarks/README.md#verdicts-that-survive-a-re-run--bench_calibrationpy)). A CPU with "
            "other vector units (AMX, AVX-512) changes the trainings' rounding, which is training variation of the "
            "kind these intervals count; it was not measured separately here.\n")


def replication_short(audits: Path) -> str:
    """Fitzpatrick and gender rows (none, deepfn, oracle) of the replication benchmark, as a markdown table."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_replication import PAPER, _p, split_rows

    lines = [
        "| split | normalizer | within | cross | gap | p (people and trainings) | share of the oracle's cross gain | "
        "paper within / cross |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for split in ("fitzpatrick", "gender"):
        for r in split_rows(split, audits / split):
            if r["normalizer"] not in ("none", "deepfn", "oracle"):
                continue
            share = {"none": "0 %", "oracle": "100 %"}.get(r["normalizer"], f"{100 * r['share_cross']:.0f} %")
            paper = PAPER[split].get(r["normalizer"])
            lines.append(f"| {split} | {r['normalizer']} | {100 * r['within']:.1f} | {100 * r['cross']:.1f} | "
                         f"{100 * r['gap']:+.1f} | {_p(r['p'])} | {share} | "
                         f"{f'{paper[0]:.1f} / {paper[1]:.1f}' if paper else '—'} |")
    return "\n".join(lines) + "\n"


def _split_facts(audit: Path) -> dict:
    """DeepFN against none and the oracle on one split: shares, within change, gaps, the between-group difference."""
    from bench_replication import split_rows

    from auditkit.report.render import load_run
    from auditkit.report.tables import audit_tables, ceiling_shares, headline
    from auditkit.stats import CROSSED_TEST
    from auditkit.stats.disparities import ALL_AUS

    results, run = load_run(audit)
    tables = audit_tables(results, int(run["config"]["seed"]))
    rows = {r["normalizer"]: r for r in split_rows(audit.name, audit)}  # the same figures as the table above it
    share = ceiling_shares(tables.conditions, tables.ceiling).set_index("normalizer")
    gaps = {n: headline(tables, n).set_index("test_group").loc["all"] for n in ("none", "deepfn", "oracle")}
    t = tables.tests
    gap_change = t[(t["comparison"] == "deepfn vs none (gap change)") & (t["test"] == CROSSED_TEST)].iloc[0]
    every = tables.disparity_summary["au"] == ALL_AUS
    rates = tables.error_rate_differences[tables.error_rate_differences["au"] == ALL_AUS]
    pairs = tables.disparity_summary[every].set_index("normalizer")
    change = tables.disparity_changes[tables.disparity_changes["au"] == ALL_AUS].set_index("normalizer")
    adjusted = tables.adjusted_summary.set_index("normalizer")
    adjusted_change = tables.adjusted_changes.set_index("normalizer")
    from bench_replication import group_rows

    groups = {g["test_group"]: g["share_cross"] for g in group_rows(audit.name, audit) if g["normalizer"] == "deepfn"}
    return {"share": share.loc["deepfn", "share_cross"], "groups": groups,
            "within": (rows["none"]["within"], rows["deepfn"]["within"]),
            "gaps": gaps, "gap_change": gap_change, "pair": pairs.loc["deepfn", "comparison"],
            "pairs": pairs, "rates": rates,
            "difference": {n: pairs.loc[n, "difference"] for n in ("none", "deepfn", "oracle")},
            "change": change.loc["deepfn"],
            "adjusted": {n: adjusted.loc[n, "difference"] for n in ("none", "deepfn", "oracle")},
            "base_rates": (adjusted.loc["none", "base_rate_a"], adjusted.loc["none", "base_rate_b"]),
            "adjusted_change": adjusted_change.loc["deepfn"]}


def person_bullet(audit: Path) -> str:
    """The person split in one sentence, from its replication audit: its direction without normalization, and what
    DeepFN and the oracle do to person-independent models."""
    from bench_replication import _p, split_rows

    from auditkit.data.synth.default import PERSON_FRAMES

    def p_of(value: float) -> str:
        text = _p(value)
        return f"p {text}" if text.startswith("<") else f"p = {text}"

    rows = {r["normalizer"]: r for r in split_rows(audit.name, audit)}
    none = rows["none"]
    direction = ("the paper's direction (60.3 vs 55.0)" if none["within"] > none["cross"]
                 else "the reverse of the paper's direction (60.3 vs 55.0)")
    deepfn, oracle = rows.get("deepfn"), rows.get("oracle")
    after = ""
    if deepfn is not None and oracle is not None:
        after = (f" DeepFN lifts person-independent models to {100 * deepfn['cross']:.1f} (dependent "
                 f"{100 * deepfn['within']:.1f}, gap {100 * deepfn['gap']:+.1f}, {p_of(deepfn['p'])}); the oracle "
                 f"to {100 * oracle['cross']:.1f} (dependent {100 * oracle['within']:.1f}).")
    return (f"- **The person split** (its own default: 41 BP4D-like people × {PERSON_FRAMES:,} frames, because "
            "person-dependent models learn from one person's frames; [why](benchmarks/README.md#the-person-split-and-"
            f"frames-per-person--bench_person_splitpy)): person-dependent {100 * none['within']:.1f} vs "
            f"person-independent {100 * none['cross']:.1f} without normalization (gap {100 * none['gap']:+.1f}, "
            f"{p_of(none['p'])}), {direction}.{after}")


def deepfn_verdict(audits: Path) -> str:
    """The README's plain reading of the replication table, written from the same audits (never by hand)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bench_replication import _p

    skin, gender = _split_facts(audits / "fitzpatrick"), _split_facts(audits / "gender")
    over_seeds = seeds_sentence(audits)

    def pts(x: float) -> str:
        shown = round(100 * x, 1)
        return f"{shown + 0.0:+.1f}" if shown != 0 else "0.0"

    def p_is(value: float) -> str:
        text = _p(value)
        return f"p {text}" if text.startswith("<") else f"p = {text}"

    lines = [
        "What the table shows, plainly (written by `benchmarks/readme_figures.py` from the replication audits):",
        "",
    ]
    lines.append("- **The ceiling is far above everything.** A perfect normalizer (the oracle, from the synthetic "
                 f"ground truth) closes the skin-type gap ({pts(skin['gaps']['none']['gap'])} → "
                 f"{pts(skin['gaps']['oracle']['gap'])} points) and the gender gap "
                 f"({pts(gender['gaps']['none']['gap'])} → {pts(gender['gaps']['oracle']['gap'])}).")
    def by_group(facts: dict) -> str:
        return ", ".join(f"{g} {100 * s:.0f} %" for g, s in sorted(facts["groups"].items()))

    lines.append(
        f"- **DeepFN closes part of the distance.** Its cross-group gain is {100 * skin['share']:.0f} % of the "
        f"oracle's on skin type ({by_group(skin)}) and {100 * gender['share']:.0f} % on gender "
        f"({by_group(gender)}){over_seeds}; within-group scores go from "
        f"{100 * skin['within'][0]:.1f} to {100 * skin['within'][1]:.1f} (skin type) and "
        f"{100 * gender['within'][0]:.1f} to {100 * gender['within'][1]:.1f} (gender). "
        + gap_change_reading(skin, pts, p_is)
    )
    c = skin["change"]
    wider = abs(skin["difference"]["deepfn"]) > abs(skin["difference"]["none"])
    lines.append(f"- **But look at the disparity too.** Between darker- and lighter-skinned test subjects "
                 f"({skin['pair']}) the difference is {pts(skin['difference']['none'])} points without normalization, "
                 f"{pts(skin['difference']['deepfn'])} with DeepFN and {pts(skin['difference']['oracle'])} with the "
                 f"oracle. Counting training variation as well as people, DeepFN's change is {pts(c['change'])} "
                 f"(95% CI {pts(c['change_ci_low'])} to {pts(c['change_ci_high'])}, {p_is(c['p'])})"
                 f"{seeds_difference(audits, pts)}. "
                 + disparity_reading(wider, c["p"], seeds_wider(audits)) + rates_reading(skin, pts, p_is))
    a, (rate_a, rate_b) = skin["adjusted_change"], skin["base_rates"]
    adjusted_wider = abs(skin["adjusted"]["deepfn"]) > abs(skin["adjusted"]["none"])
    lines.append(
        f"- **Part of that difference is base rates, not DeepFN** (a secondary view). Darker-skinned test "
        f"subjects of the synthetic default show AUs in {100 * rate_a:.1f} % of coded frames, lighter-skinned "
        f"ones in {100 * rate_b:.1f} % (expressiveness is drawn independently of skin type; these 17 people "
        "happen to differ), and F1 falls with a lower base rate at the same hit and false-alarm rates. "
        "Prevalence-calibrated (Siblini et al., 2020: each subject's rates rescored at every AU's pooled base "
        "rate, assuming they do not depend on it; `auditkit.stats.base_rates`, in every report) the difference is "
        f"{pts(skin['adjusted']['none'])} without normalization, {pts(skin['adjusted']['deepfn'])} with DeepFN "
        f"and {pts(skin['adjusted']['oracle'])} with the oracle (DeepFN's change {pts(a['change'])}, 95% CI "
        f"{pts(a['change_ci_low'])} to {pts(a['change_ci_high'])}, {p_is(a['p'])})"
        f"{seeds_difference(audits, pts, 'adjusted_difference')}. "
        + adjusted_reading(adjusted_wider, a["p"], seeds_wider(audits, "adjusted_difference"))
    )
    lines += ["- **What got DeepFN there**, each step measured against the oracle in "
              "[benchmarks](benchmarks/README.md#deepfn-against-the-ceiling): centered training (identity out of the "
              "code), a gradient loss, BatchNorm statistics taken from each person's own frames, the paper's random "
              "grid warp off in the CPU default, 3,000 training iterations, histogram equalization by the inner face "
              "instead of the whole crop (whole-crop equalization let the background set the grey levels, and "
              "normalized darker-skinned faces worse), and a mid-grey background outside the face (behind a darker "
              "face the background still turned white, and the head's moving silhouette drowned its expression).",
              person_bullet(audits / "person"), "",
              "Reproducing the paper's own procedure needs its preset and training budget on a GPU "
              "(`--normalizer-option deepfn.preset=paper --normalizer-option deepfn.mode=per-subject`; timings in "
              "[benchmarks](benchmarks/README.md#the-paper-preset-on-a-gpu--bench_deepfn_gpupy)). Look at "
              "`auditkit normalize --preview` before trusting a normalizer, as any audit of it should."]
    return "\n".join(lines) + "\n"


def gap_change_reading(skin: dict, pts, p_is) -> str:
    """DeepFN's change to the skin-type gap, said only as far as its own test (people and trainings) supports it."""
    g, c = skin["gaps"], skin["gap_change"]
    figures = (f"{pts(g['none']['gap'])} points without normalization, {pts(g['deepfn']['gap'])} with DeepFN (change "
               f"{pts(c['diff'])}, 95% CI {pts(c['ci_low'])} to {pts(c['ci_high'])}, {p_is(c['p'])}, counting "
               "people and trainings)")
    if c["p"] < 0.05:
        word = "narrows" if abs(g["deepfn"]["gap"]) < abs(g["none"]["gap"]) else "widens"
        return f"DeepFN {word} the skin-type gap: {figures}."
    return f"The skin-type gap: {figures}: a change this audit cannot tell from training noise."


def rates_reading(facts: dict, pts, p_is) -> str:
    """' Error rates: ...' for DeepFN's skin-type audit: which rate differs between the groups, if any."""
    rates = facts["rates"]
    rows = rates[rates["normalizer"] == "deepfn"].set_index("rate")
    if not {"hit_rate", "false_alarm_rate"} <= set(rows.index):
        return ""
    parts = []
    for rate, name in (("hit_rate", "hit rate"), ("false_alarm_rate", "false-alarm rate")):
        r = rows.loc[rate]
        parts.append(f"{name} {100 * r['value_a']:.1f} vs {100 * r['value_b']:.1f} % ({p_is(r['p'])})")
    return f" With DeepFN the two groups' error rates (equalized odds): {'; '.join(parts)}."


def disparity_reading(wider: bool, p: float, seeds_p: float | None = None) -> str:
    """The verdict's last sentence on the between-group difference: what DeepFN's change test (people and trainings)
    supports, and what the seeds add (`seeds_p`: seeds_wider's Welch p over the seeds' means; None: no seeds)."""
    if p < 0.05:
        return ("DeepFN widens the difference between the groups: a smaller gap is not a fairer model here." if wider
                else "DeepFN narrows the difference as well.")
    text = ("Once training variation is counted this is no change the audit can tell from noise (the interval holds "
            "0)")
    if wider and seeds_p is not None and seeds_p < 0.05:
        text += (f"; over the seeds DeepFN's difference was wider than none's (Welch t-test on the seeds' "
                 f"differences, p = {seeds_p:.3f}): a widening consistent across re-runs on these 17 people, which "
                 "their number cannot yet generalize")
    return text + ": a smaller gap, not a smaller disparity."


def adjusted_reading(wider: bool, p: float, seeds_p: float | None = None) -> str:
    """The verdict's sentence on the prevalence-calibrated difference, by its change test."""
    if p < 0.05:
        return (f"Prevalence-calibrated, DeepFN still {'widens' if wider else 'narrows'} the difference (p = {p:.3f}): "
                "that part is DeepFN's own.")
    seeds = ""
    if wider and seeds_p is not None:
        seeds = f"; over the seeds, on the same 17 people, Welch p = {seeds_p:.3f}"
    return (f"Prevalence-calibrated, DeepFN's change is no change the audit can tell from noise (p = {p:.3f}{seeds}): "
            "the disparity goal is not met, nor clearly missed.")


def seeds_wider(audits: Path, key: str = "difference") -> float | None:
    """Welch's two-sided t-test p that DeepFN's skin-type difference (`key`: as scored, or `adjusted_difference` at
    equal base rates) is further from 0 than none's, over the seeds (their |mean| ± sd per normalizer), or 1.0 when it
    is not further; None without seeds.json or under 2 seeds."""
    path = audits / "seeds.json"
    if not path.is_file():
        return None
    import json

    from scipy.stats import ttest_ind_from_stats

    r = next((r for r in json.loads(path.read_text()) if r["split"] == "fitzpatrick" and r["normalizer"] == "deepfn"),
             None)
    if r is None or key not in r or r[key]["deepfn"]["n"] < 2:
        return None
    d, n = r[key]["deepfn"], r[key]["none"]
    if abs(d["mean"]) <= abs(n["mean"]):
        return 1.0
    return float(ttest_ind_from_stats(abs(d["mean"]), d["sd"], d["n"], abs(n["mean"]), n["sd"], n["n"],
                                      equal_var=False).pvalue)


def seeds_sentence(audits: Path) -> str:
    """', over seeds 0, 1, 2: ...' from the replication's seeds.json (bench_replication.py --seeds), or ''."""
    path = audits / "seeds.json"
    if not path.is_file():
        return ""
    import json

    rows = {r["split"]: r for r in json.loads(path.read_text()) if r["normalizer"] == "deepfn"}
    parts = []
    for split, label in (("fitzpatrick", "skin type"), ("gender", "gender")):
        r = rows.get(split)
        if r is None or r["share"]["n"] < 2:
            continue
        worst = min(r["groups"].items(), key=lambda kv: kv[1]["mean"]) if r["groups"] else None
        text = (f"{label} {100 * r['share']['mean']:.0f} ± {100 * r['share']['sd']:.1f} % (mean − 2·sd/√n "
                f"{100 * r['share']['lower']:.0f} %")
        if worst is not None:
            text += f"; worst-served group {worst[0]} {100 * worst[1]['mean']:.0f} ± {100 * worst[1]['sd']:.1f} %"
        parts.append(text + ")")
    if not parts:
        return ""
    n = max(r["seeds"] for r in rows.values())
    return f"; over {n} seeds (other subject draws and fits): " + ", ".join(parts)


def seeds_difference(audits: Path, pts, key: str = "difference") -> str:
    """'; over 3 seeds ...' : the skin-type difference (`key`) of none, DeepFN and the oracle as mean ± sd, or ''."""
    path = audits / "seeds.json"
    if not path.is_file():
        return ""
    import json

    r = next((r for r in json.loads(path.read_text()) if r["split"] == "fitzpatrick" and r["normalizer"] == "deepfn"),
             None)
    if r is None or key not in r or r[key]["deepfn"]["n"] < 2:
        return ""
    d = r[key]
    return (f"; over {r['seeds']} seeds " + ", ".join(f"{n} {pts(d[n]['mean'])} ± {100 * d[n]['sd']:.1f}"
                                                   for n in ("none", "deepfn", "oracle")))


def screenshot(audit: Path, png: Path) -> None:
    """docs/report.png: the audit's report.html rendered by headless Chromium (rebuilt from its results first)."""
    import shutil

    from auditkit.report.render import build_report

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium is needed for the screenshot (Debian: apt-get install chromium)")
    report = build_report(audit)
    with tempfile.TemporaryDirectory() as profile:
        flags = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                 "--virtual-time-budget=15000", f"--user-data-dir={profile}", "--window-size=1200,3200"]
        subprocess.run([chromium, *flags, f"--screenshot={png}", report.as_uri()], capture_output=True, timeout=300,
                       check=True)
    print(f"wrote {png}", file=sys.stderr)


def smoke_report(out: Path) -> Path:
    """Run the smoke audit a new user tries first (afresh: seconds, and never an older version's results) and return
    its directory."""
    cmd = [sys.executable, "-m", "auditkit", "gap", "--attr", "fitzpatrick", "--preset", "smoke", "--normalizer",
           "oracle", "--out", str(out), "--force"]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return out


def main() -> None:
    """Regenerate the README's blocks."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--replication", type=Path, default=ROOT / "audits" / "replication")
    parser.add_argument("--out", type=Path, default=ROOT / "audits" / "readme-quickstart")
    parser.add_argument("--skip-quickstart", action="store_true")
    parser.add_argument("--skip-deepfn-timing", action="store_true")
    parser.add_argument("--skip-smoke", action="store_true")
    parser.add_argument("--calibration", type=Path, default=ROOT / "audits" / "calibration",
                        help="bench_calibration.py's audits: how far a re-run lands (its seed audits)")
    args = parser.parse_args()
    text = README.read_text()
    if not args.skip_quickstart:
        text = replace_block(text, "quickstart", quickstart(args.out, args.calibration))
        README.write_text(text)
    if not args.skip_deepfn_timing:
        text = replace_block(text, "deepfn-timing", deepfn_timing(args.out.with_name("readme-deepfn")))
        README.write_text(text)
    text = replace_block(text, "replication-short", replication_short(args.replication))
    text = replace_block(text, "deepfn-verdict", deepfn_verdict(args.replication))
    README.write_text(text)
    screenshot(args.replication / "fitzpatrick", ROOT / "docs" / "report.png")
    if not args.skip_smoke:
        screenshot(smoke_report(args.out.with_name("readme-smoke")), ROOT / "docs" / "report-smoke.png")
    print(f"updated {README}", file=sys.stderr)


if __name__ == "__main__":
    main()
