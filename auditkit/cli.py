"""The `auditkit` command line: the only place that parses user input."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from auditkit import __version__
from auditkit.errors import AuditkitError

app = typer.Typer(
    name="auditkit",
    help="Fairness audits for facial action unit recognition (within- vs cross-group gaps, DeepFN normalization).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # help texts are plain text: "auditkit[cluster]" must show its brackets, not be read as a markup tag
    rich_markup_mode=None,
)
# markup off: subject ids, group values, paths and messages are user strings, and "[/]" or "[bold]" in one of them
# must print as written, not style (or crash) the output; styling is explicit, through _styled
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def _styled(head: str, style: str, rest: str) -> Text:
    """`head` in `style`, then `rest` verbatim."""
    return Text.assemble((head, style), rest)


def _version(value: bool) -> None:
    if value:
        console.print(f"auditkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """Fairness audits for facial action unit recognition."""


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), console=err_console, transient=False,
    )


def _names(values: list[str]) -> tuple[str, ...]:
    """Names from a repeated option whose values may also be comma lists, in order, without repeats."""
    return tuple(dict.fromkeys(n.strip() for v in values for n in v.split(",") if n.strip()))


def _attrs(attr: str) -> tuple[str, ...]:
    """--attr's comma-separated attributes (an intersection when several); empty is an error."""
    attrs = _names([attr])
    if not attrs:
        raise AuditkitError("--attr: give an attribute such as fitzpatrick, gender, person or dataset")
    return attrs


PLAIN_PROGRESS_EVERY_S = 30.0  # without a terminal: one progress line per stage at most this often


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class _PlainProgress:
    """Progress as plain lines (done/total, elapsed, ETA) for logs, CI and nohup, where a live bar shows nothing."""

    def __init__(self, every: float = PLAIN_PROGRESS_EVERY_S) -> None:
        self.every = every
        self.stage: str | None = None
        self.stage_start = self.last = 0.0

    def __call__(self, what: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if what != self.stage:
            self.stage, self.stage_start, self.last = what, now, -float("inf")
        finished = bool(total) and done >= total
        if not finished and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.stage_start
        line = f"{what}: {done}/{total if total else '?'}, {_duration(elapsed)} elapsed"
        if total and 0 < done < total:
            line += f", about {_duration(elapsed / done * (total - done))} left"
        err_console.print(line, markup=False, highlight=False)


@contextmanager
def _lazy_progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress callback (what, done, total): a live bar on a terminal, plain periodic lines otherwise.

    The bar appears with the first report, so an error raised before any work prints no empty bar.
    """
    if not err_console.is_terminal:
        yield _PlainProgress()
        return
    state: dict[str, Any] = {}

    def report(what: str, done: int, total: int | None) -> None:
        if "bar" not in state:
            state["bar"] = _progress()
            state["bar"].start()
            state["task"] = state["bar"].add_task(what, total=total)
        state["bar"].update(state["task"], description=what, completed=done, total=total)

    try:
        yield report
    finally:
        if "bar" in state:
            state["bar"].stop()


@app.command()
def synth(
    out: Path | None = typer.Option(None, "--out", help="Directory to write the dataset into."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives byte-identical files."),
    frames_per_subject: int = typer.Option(300, "--frames-per-subject", min=1, help="Frames rendered per subject."),
    preview: Path | None = typer.Option(None, "--preview", help="Write a contact sheet PNG (neutral and each AU)."),
    jobs: int = typer.Option(-1, "--jobs", help="Worker processes (-1: all cores)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
    layout: str | None = typer.Option(None, "--layout", help="Instead write a look-alike tree in bp4d's or disfa's "
                                      "distributed layout (camera frames + label files) to try `auditkit ingest`."),
    subjects: int = typer.Option(3, "--subjects", min=1, help="With --layout: subjects in the tree."),
) -> None:
    """Render the synthetic face-AU benchmark (BP4D-like and DISFA-like subjects)."""
    from auditkit.data.synth.generate import SynthConfig, generate, make_identities
    from auditkit.data.synth.preview import write_contact_sheet

    if layout is not None:
        _synth_layout(layout, out, subjects, min(frames_per_subject, 300), seed, force)
        return
    if out is None and preview is None:
        raise AuditkitError("synth: give --out DIR to write a dataset and/or --preview PNG for a contact sheet")
    cfg = SynthConfig(seed=seed, frames_per_subject=frames_per_subject)
    if preview is not None:
        path = write_contact_sheet(make_identities(cfg), preview)
        console.print(f"contact sheet written to {path}")
    if out is not None:
        with _lazy_progress() as report:
            generate(out, cfg, n_jobs=jobs, force=force, progress=lambda done, total: report("rendering subjects", done, total))
        console.print(f"dataset written to {out}  (next: auditkit inspect {out})")


def _synth_layout(layout: str, out: Path | None, subjects: int, frames: int, seed: int, force: bool) -> None:
    from auditkit.data.synth.official import TreeConfig, write_bp4d_tree, write_disfa_tree

    writers = {"bp4d": write_bp4d_tree, "disfa": write_disfa_tree}
    if layout not in writers:
        raise AuditkitError(f"--layout: unknown layout {layout!r} (choose from bp4d, disfa)")
    if out is None:
        raise AuditkitError("synth --layout: give --out DIR for the tree")
    if out.exists() and any(out.iterdir()) and not force:
        raise AuditkitError(f"{out}: already exists and is not empty (pass --force to replace it)")
    demo = writers[layout](out, TreeConfig(subjects=subjects, frames=frames, seed=seed))
    demo_path = out / "demographics.csv"
    demo.to_csv(demo_path, index=False)
    console.print(f"{layout} look-alike tree written to {out}  "
                  f"(next: auditkit ingest {layout} {out} --demographics {demo_path} --out DIR)")


@app.command()
def ingest(
    source: str = typer.Argument(..., help="Which dataset's distributed layout: bp4d, disfa, or an installed "
                                 "`auditkit.datasets` plugin (the options below marked BP4D/DISFA are theirs)."),
    root: Path = typer.Argument(..., help="The dataset's root folder as unpacked from the licensed copy."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to write."),
    demographics: Path | None = typer.Option(None, "--demographics", help="CSV/Parquet keyed by subject: gender, "
                                             "fitzpatrick, age, ethnicity, ..."),
    aus: str | None = typer.Option(None, "--aus", help="AUs to keep, e.g. 1,2,4 (default: the dataset's usual 12; "
                                   "'all': every AU in the files)."),
    camera: str = typer.Option("left", "--camera", help="DISFA: which camera's videos (left or right)."),
    threshold: int | None = typer.Option(None, "--threshold", help="DISFA: intensity counted as present (default 2)."),
    allow_missing_demographics: bool = typer.Option(False, "--allow-missing-demographics",
                                                    help="Keep subjects without a demographics row (empty attributes)."),
    skip_unreadable: bool = typer.Option(False, "--skip-unreadable", help="Record and skip unreadable images "
                                         "instead of stopping."),
    size: int = typer.Option(128, "--size", min=32, help="Side of the aligned face crops in pixels."),
    detector: str = typer.Option("haar", "--detector", help="Face detector: haar (OpenCV, default) or dlib-hog "
                                 "(misses fewer expressive faces; needs auditkit[dlib])."),
    jobs: int = typer.Option(-1, "--jobs", help="Worker processes (-1: all cores)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output (or a partial one with other options)."),
) -> None:
    """Ingest BP4D-Spontaneous or DISFA from their distributed layout: labels, face crops, demographics.

    Interrupted runs resume: run the same command again.
    """
    from auditkit.data.ingest import SOURCES, build_job, ingest_with_plugin, run_ingest
    from auditkit.data.preprocess import PreprocessConfig

    if source not in SOURCES:  # a third-party source, installed as an `auditkit.datasets` plugin
        written = ingest_with_plugin(source, root, out, demographics, n_jobs=jobs)
        console.print(f"dataset written to {written}  (next: auditkit inspect {written})")
        return
    job = build_job(source, root, demographics, aus=aus, camera=camera, threshold=threshold,
                    allow_missing_demographics=allow_missing_demographics, skip_unreadable=skip_unreadable,
                    preprocess=PreprocessConfig(size=size, detector=detector))
    missing = job.demographics.missing
    if missing and demographics is not None:
        err_console.print(_styled("warning:", "yellow",
                                  f" {len(missing)} subjects have no demographics row: {', '.join(missing)}"))
    if job.demographics.unused:
        err_console.print(_styled("note:", "yellow", f" {len(job.demographics.unused)} demographics rows match no subject in "
                          f"{root}: {', '.join(job.demographics.unused)}"))
    with _lazy_progress() as report:
        stats = run_ingest(job, out, n_jobs=jobs, force=force,
                           progress=lambda done, total: report(f"ingesting {source} frames", done, total))
    console.print(f"{stats['frames_kept']} of {stats['frames_labelled']} labelled frames kept; no face found in "
                  f"{stats['no_face']}, unreadable {stats['unreadable']} (listed in {out / stats['skipped_frames_file']}); "
                  f"{stats['unlabelled_frames_skipped']} unlabelled frames skipped")
    console.print(f"dataset written to {out}  (next: auditkit inspect {out})")


@app.command()
def merge(
    inputs: list[Path] = typer.Argument(..., help="Two or more dataset directories (e.g. ingested bp4d and disfa)."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to write."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Join dataset directories into one (for --attr dataset); AUs a part does not code are marked not coded."""
    from auditkit.data import load_dataset
    from auditkit.data.merge import merge_datasets

    merge_datasets(inputs, out, force=force)
    ds = load_dataset(out)
    console.print(f"merged {len(inputs)} datasets into {out}: {len(ds.subjects)} subjects, {len(ds.frames)} frames, "
                  f"fingerprint {ds.fingerprint}")


@app.command()
def inspect(data: Path = typer.Argument(..., help="Dataset directory.")) -> None:
    """Validate a dataset directory (every problem, not only the first), print who is in it, how often each AU
    occurs, and which of the paper's splits the default protocol can run on it."""
    from auditkit.data import load_dataset
    from auditkit.data.inspect import summarize
    from auditkit.data.validate import diagnose
    from auditkit.protocol.feasibility import feasibility

    problems = diagnose(data)
    if len(problems) == 1:
        raise problems[0]
    if problems:
        for problem in problems:
            err_console.print(_styled("error:", "red", f" {problem}"), highlight=False, soft_wrap=True)
        raise AuditkitError(f"{data}: {len(problems)} problem{'s' if len(problems) > 1 else ''} found (listed above)")
    ds = load_dataset(data)
    summary = summarize(ds)
    h, w = ds.image_size
    console.print(_styled(str(data), "bold", "") + f"  fingerprint {ds.fingerprint}  faces {len(ds.faces)} x {h}x{w}  "
                  f"subjects {len(ds.subjects)}  frames {len(ds.frames)}")
    table = Table(title="Subjects per source dataset")
    for col in summary.subjects.columns:
        table.add_column(str(col), justify="left" if col == "dataset" else "right")
    for row in summary.subjects.itertuples(index=False):
        table.add_row(*[str(v) if isinstance(v, str) else str(int(v)) for v in row])
    console.print(table)
    aus = Table(title="Action units: base rate among coded frames (coded fraction)")
    aus.add_column("AU")
    sources = sorted(summary.aus["dataset"].unique())
    for s in sources:
        aus.add_column(s, justify="right")
    for au, grp in summary.aus.groupby("au", sort=False):
        cells = []
        for s in sources:
            r = grp[grp["dataset"] == s].iloc[0]
            cells.append("not coded" if r["coded"] == 0 else f"{r['base_rate']:.1%} ({r['coded']:.0%})")
        aus.add_row(au, *cells)
    console.print(aus)
    splits = Table(title="Can the default protocol run? (4 train + 2 validation subjects per group, test on the rest)")
    for col in ("split", "runs", "groups (subjects)"):
        splits.add_column(col)
    for row in feasibility(ds).itertuples(index=False):
        splits.add_row(row.attr, "yes" if row.runs else "no", row.groups if row.runs else row.why)
    console.print(splits)


def _ensure_default_data(attrs: tuple[str, ...] = ()) -> Path:
    from auditkit.data.format import META_FILE
    from auditkit.data.synth.default import default_data_dir, ensure_default_dataset

    path = default_data_dir(attrs)
    if (path / META_FILE).exists():
        return path
    what = ("the person split's synthetic default (more frames per person)" if path.name == "synth-person"
            else "the synthetic default")
    err_console.print(f"no --data given: generating {what} into {path} (once)")
    with _lazy_progress() as report:
        return ensure_default_dataset(progress=lambda d, t: report("rendering subjects", d, t), attrs=attrs)


def _fmt_p(p: float) -> str:
    from auditkit.stats import format_p

    return format_p(p, compact=True)


def _compact(title: str, columns: list[tuple[str, str]], caption: str | None = None) -> Table:
    """A table that reads at 80 columns: light rules, numbers never wrapped, long names folded rather than cut."""
    table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True, title_justify="left",
                  caption_justify="left")
    for name, just in columns:
        numeric = just == "right"
        table.add_column(name, justify=just, no_wrap=numeric, overflow="fold")
    return table


def print_summary(tables) -> None:
    """Terminal version of the paper's Table 5 plus the gap tests, readable at 80 columns."""
    from auditkit.report.tables import ceiling_shares, format_share, headline
    from auditkit.stats import CI_NOTE

    cond = tables.conditions
    for norm in cond["normalizer"].unique():
        table = _compact(f"{norm}: score (mean of F1 and accuracy, %) per train -> test group",
                         [("cond.", "left"), ("train -> test", "left"), ("score ± sd", "right"), ("F1", "right"),
                          ("acc.", "right"), ("subj.", "right"), ("reps", "right")])
        rows = cond[cond["normalizer"] == norm].sort_values(["condition", "train_group", "test_group"], kind="stable")
        for r in rows.itertuples():
            table.add_row(r.condition, f"{r.train_group} -> {r.test_group}", f"{100 * r.score:.1f} ± {100 * r.std:.1f}",
                          f"{100 * r.f1:.1f}", f"{100 * r.accuracy:.1f}", str(r.subjects), str(r.repetitions))
        console.print(table)
    gaps = _compact("Generalization gap (within - cross, points). p: the paper's subject t-test; Holm: corrected per "
                    "normalizer; p reps: the repetition-level paired test; g: Hedges' g; * significant after Holm",
                    [("normalizer", "left"), ("tested on", "left"), ("gap", "right"), ("95% CI", "right"),
                     ("p", "right"), ("Holm", "right"), ("p reps", "right"), ("g", "right")], caption=CI_NOTE)
    for norm in cond["normalizer"].unique():
        for r in headline(tables, norm).itertuples():
            mark = "*" if r.p_holm < 0.05 else " "
            gaps.add_row(norm, r.test_group, f"{100 * r.gap:+.1f}{mark}", f"{100 * r.ci_low:+.1f}..{100 * r.ci_high:+.1f}",
                         _fmt_p(r.p), _fmt_p(r.p_holm), _fmt_p(r.p_repetitions), f"{r.hedges_g:.2f}")
    console.print(gaps)
    shares = ceiling_shares(cond)
    if len(shares):
        ceiling = _compact("Share of the ceiling: (normalizer - none) / (oracle - none); oracle = a perfect normalizer "
                           "from the synthetic ground truth",
                           [("normalizer", "left"), ("cross", "right"), ("share", "right"), ("mean", "right"),
                            ("share of mean", "right")])
        for r in shares.itertuples():
            ceiling.add_row(r.normalizer, f"{100 * r.cross:.1f}", format_share(r.share_cross), f"{100 * r.all:.1f}",
                            format_share(r.share_all))
        console.print(ceiling)


def print_disparities(tables) -> None:
    """Disparities between test groups (all AUs): each group's score with its bootstrap CI, ratio to the best group."""
    from auditkit.disparities import ALL_AUS, MIN_SUBJECTS, RATIO_BAND

    groups = tables.disparity_groups
    groups = groups[groups["au"] == ALL_AUS]
    if groups.empty:
        return
    table = _compact(f"Disparities between test groups (all AUs; each subject scored by every model that tested it). "
                     f"! = a ratio outside [{RATIO_BAND[0]}, {RATIO_BAND[1]}]; ~ = under {MIN_SUBJECTS} subjects",
                     [("norm.", "left"), ("group", "left"), ("subj.", "right"), ("score", "right"),
                      ("95% CI", "right"), ("base rate", "right"), ("-best", "right"), ("/best", "right"),
                      ("/overall", "right")])
    for r in groups.itertuples():
        mark = ("!" if r.outside_band else "") + ("~" if r.small else "")
        table.add_row(r.normalizer, f"{r.test_group}{mark}", str(r.subjects), f"{100 * r.score:.1f}",
                      f"{100 * r.score_ci_low:.1f}..{100 * r.score_ci_high:.1f}", f"{100 * r.base_rate:.1f} %",
                      f"{100 * r.diff_to_best:+.1f}", f"{r.ratio_to_best:.2f}", f"{r.ratio_to_overall:.2f}")
    console.print(table)
    summary = tables.disparity_summary
    console.print("Between groups: signed difference A - B of mean subject scores [95% bootstrap CI], permutation p "
                  "(Holm over the pairs); range and min ratio are descriptive:")
    for r in summary[summary["au"] == ALL_AUS].itertuples():
        flag = f" outside [{RATIO_BAND[0]}, {RATIO_BAND[1]}]" if r.outside_band else ""
        console.print(f"  {r.normalizer}: {r.comparison}: difference {100 * r.difference:+.1f} "
                      f"[{100 * r.difference_ci_low:+.1f}, {100 * r.difference_ci_high:+.1f}] points, "
                      f"p = {_fmt_p(r.p)} (Holm {_fmt_p(r.p_holm)}); range {100 * r.range:.1f}, min ratio "
                      f"{r.min_ratio:.2f}{flag}", markup=False, highlight=False)
    for r in summary[summary["au"] == ALL_AUS].drop_duplicates("normalizer").itertuples():
        if r.small_groups:
            console.print(f"  warning: {r.small_groups}: fewer than {MIN_SUBJECTS} test subjects; "
                          "their values are unreliable", markup=False, highlight=False)
    changes = tables.disparity_changes
    for r in changes[changes["au"] == ALL_AUS].itertuples():
        console.print(f"  {r.normalizer} vs none: {r.comparison} difference {100 * r.difference_baseline:+.1f} -> "
                      f"{100 * r.difference:+.1f} points (change {100 * r.change:+.1f} [{100 * r.change_ci_low:+.1f}, "
                      f"{100 * r.change_ci_high:+.1f}], p = {_fmt_p(r.p)}, Holm {_fmt_p(r.p_holm)})",
                      markup=False, highlight=False)


def print_findings(tables, run: dict) -> None:
    """The report's plain-language findings (with an underpowered run's caveats), as report.html and summary.md say them."""
    from auditkit.report.findings import summary_sentences

    lines = summary_sentences(tables, run)
    if lines:
        console.print("Findings:", style="bold")
        for line in lines:
            console.print(f"- {line}", markup=False, highlight=False)


def print_coverage(title: str, coverage: dict) -> None:
    """Per group: frames never served (by a tool, or lost at ingest), mean share per subject, and the tests."""
    table = _compact(title, [("group", "left"), ("subjects", "right"), ("frames", "right"), ("missed", "right"),
                             ("share", "right")])
    for g in coverage.get("groups", []):
        table.add_row(str(g["group"]), str(g["subjects"]), str(g["frames"]), str(g["missed"]),
                      f"{100 * g['missed_share']:.1f} %")
    console.print(table)
    for t in coverage.get("tests", []):
        console.print(f"  {t['comparison']}: difference {100 * t['diff']:+.1f} points, p = {_fmt_p(t['p'])} "
                      f"(Holm {_fmt_p(t['p_holm'])})", markup=False, highlight=False)
    never = coverage.get("not_run") or {}
    if never.get("subjects") or never.get("sequences"):
        console.print(f"warning: no predictions for {never['subjects']} subject(s), {never['sequences']} sequence(s) "
                      "of tested subjects: never run, so neither scored nor counted as missed", markup=False,
                      highlight=False)
    if coverage.get("sources"):
        console.print(f"  source datasets in scope: {', '.join(coverage['sources'])}", markup=False, highlight=False)


@app.command()
def gap(
    attr: str = typer.Option(..., "--attr", help="person, gender, fitzpatrick, dataset, any subjects.parquet column, "
                                                 "or a comma-separated intersection (gender,fitzpatrick)."),
    normalizer: list[str] = typer.Option(["none"], "--normalizer", help="Normalizer(s): repeat the option or give a "
                                         "comma list (histeq,deepfn); 'none' always runs as baseline."),
    normalizer_option: list[str] = typer.Option([], "--normalizer-option", help="A normalizer's setting, NAME.KEY=VALUE "
                                                "(repeatable), e.g. deepfn.mode=per-subject deepfn.preset=paper."),
    classifier: str = typer.Option("lenet5", "--classifier", help="AU classifier plugin."),
    data: Path | None = typer.Option(None, "--data", help="Dataset directory (default: the synthetic benchmark)."),
    out: Path | None = typer.Option(None, "--out", help="Audit directory (default: audits/<attr>)."),
    preset: str = typer.Option("default", "--preset", help="default (minutes on CPU), paper (the paper's protocol), smoke."),
    repeats: int | None = typer.Option(None, "--repeats", help="Repetitions (paper: 20)."),
    n_train: int = typer.Option(4, "--train", help="Training subjects per draw."),
    n_val: int = typer.Option(2, "--val", help="Validation subjects per draw."),
    bins: str | None = typer.Option(None, "--bins", help="Bins for a numeric attribute, e.g. 1-2,3-4,5-6."),
    source: str | None = typer.Option(None, "--source", help="Restrict to one source dataset ('all' for every one)."),
    template: str | None = typer.Option(None, "--template", help="Template subject (default: the most expressive)."),
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs (overrides the preset)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the subject draws and trainings."),
    jobs: int = typer.Option(-1, "--jobs", help="Parallel trainings (-1: one per core)."),
    cluster: str | None = typer.Option(None, "--cluster", help="Run the trainings on a Dask cluster: a scheduler "
                                       "address (tcp://host:8786) or local:N (N worker processes here); default "
                                       "$AUDITKIT_CLUSTER. Needs auditkit[cluster]."),
    force: bool = typer.Option(False, "--force", help="Discard results of a different audit in --out."),
    include_faces: bool = typer.Option(False, "--include-faces", help="Show individual faces in the report "
                                                                      "(default: group averages of >= 5 people only)."),
    f1_no_positives: str = typer.Option("exclude", "--f1-no-positives", help="F1 of a subject who neither shows "
                                        "nor is predicted to show an AU: exclude (left out; default), one (1.0), zero (0.0)."),
    strict_reproducibility: bool = typer.Option(False, "--strict-reproducibility", help="Refuse to resume work made "
                                                "in another environment (CPU, classifier runtime, library versions, "
                                                "revision) or to use cluster workers that differ; by default such a "
                                                "resume warns and records both."),
) -> None:
    """Train within-group and cross-group AU models and report the generalization gap with significance tests."""
    from auditkit.normalizers.base import with_baseline
    from auditkit.plugins import parse_normalizer_options
    from auditkit.protocol.cluster import cluster_spec
    from auditkit.protocol.runner import AuditConfig, run_audit
    from auditkit.report.tables import audit_tables

    attrs = _attrs(attr)
    data_dir = data if data is not None else _ensure_default_data(attrs)
    out_dir = out if out is not None else Path("audits") / "-".join(attrs)
    norms = _names(normalizer)
    options = parse_normalizer_options(normalizer_option, with_baseline(norms))
    cfg = AuditConfig.from_preset(preset, data=str(data_dir), attr=attrs, normalizers=norms, classifier=classifier,
                                  repeats=repeats, n_train=n_train, n_val=n_val, bins=bins, source=source, template=template,
                                  epochs=epochs, seed=seed, normalizer_options=options, f1_rule=f1_no_positives)
    with _lazy_progress() as report:
        try:
            results = run_audit(cfg, out_dir, jobs=jobs, force=force, progress=report, cluster=cluster_spec(cluster),
                                strict_reproducibility=strict_reproducibility)
        except KeyboardInterrupt:
            raise AuditkitError(
                f"interrupted: finished trainings are kept in {out_dir}; re-run the same command to resume") from None
    from auditkit.protocol.audit_dir import AuditDir
    from auditkit.report.render import build_report

    tables = audit_tables(results, seed)
    print_summary(tables)
    print_disparities(tables)
    run = AuditDir(out_dir).read_run()
    losses = run.get("ingest_losses")
    if losses:
        print_coverage("Labelled frames lost at ingest (no face found), mean share per subject", losses)
    print_findings(tables, run)
    report_path = build_report(out_dir, include_faces=include_faces, tables=tables)
    console.print(f"report: {report_path}  (summary.json, summary.md beside it)")
    console.print(f"results: {out_dir / 'results.parquet'}  config: {out_dir / 'run.json'}")


@app.command()
def plan(
    attr: str = typer.Option(..., "--attr", help="As for `auditkit gap`."),
    normalizer: list[str] = typer.Option(["none"], "--normalizer", help="Normalizer(s), as for `auditkit gap`."),
    normalizer_option: list[str] = typer.Option([], "--normalizer-option", help="NAME.KEY=VALUE, as for `gap`."),
    data: Path | None = typer.Option(None, "--data", help="Dataset directory (default: the synthetic benchmark)."),
    preset: str = typer.Option("default", "--preset", help="default, paper or smoke."),
    repeats: int | None = typer.Option(None, "--repeats", help="Repetitions (overrides the preset)."),
    n_train: int = typer.Option(4, "--train", help="Training subjects per draw."),
    n_val: int = typer.Option(2, "--val", help="Validation subjects per draw."),
    bins: str | None = typer.Option(None, "--bins", help="Bins for a numeric attribute."),
    source: str | None = typer.Option(None, "--source", help="Restrict to one source dataset."),
    cores: int = typer.Option(2, "--cores", help="CPU cores to express the wall time on."),
) -> None:
    """Count an audit's trainings and DeepFN fits and estimate their CPU/GPU hours, to size a cluster first."""
    from auditkit.data.dataset import load_dataset
    from auditkit.normalizers.base import with_baseline
    from auditkit.plugins import parse_normalizer_options
    from auditkit.protocol.costs import estimate
    from auditkit.protocol.runner import AuditConfig, make_plan

    attrs = _attrs(attr)
    data_dir = data if data is not None else _ensure_default_data(attrs)
    norms = _names(normalizer)
    options = parse_normalizer_options(normalizer_option, with_baseline(norms))
    cfg = AuditConfig.from_preset(preset, data=str(data_dir), attr=attrs, normalizers=norms, repeats=repeats,
                                  n_train=n_train, n_val=n_val, bins=bins, source=source, normalizer_options=options)
    ds = load_dataset(cfg.data)
    audit_plan = make_plan(cfg, ds)
    lines = estimate(audit_plan)
    in_scope = ds.frames["subject"].isin(audit_plan.scope).sum()
    table = _compact(f"auditkit gap --attr {attr} --preset {preset}: {len(audit_plan.scope)} of {len(ds.subjects)} "
                     f"subjects in scope (source {audit_plan.source}), {in_scope:,} frames",
                     [("work", "left"), ("count", "right"), ("CPU core-h", "right"), ("GPU h", "right")])
    for line in lines:
        table.add_row(line.what, f"{line.count:,}", f"{line.cpu_core_hours:,.2f}",
                      "not measured" if line.gpu_hours is None else f"{line.gpu_hours:,.2f}")
    console.print(table)
    total = sum(line.cpu_core_hours for line in lines)
    stopping = ("an upper bound for trainings: early stopping ends many sooner" if cfg.patience is not None
                else f"every training runs all {cfg.epochs} epochs: this preset has no early stopping")
    console.print(f"total {total:,.2f} CPU core-hours: ~{total / max(cores, 1):,.2f} h on {cores} cores ({stopping})")
    gpu = [line for line in lines if line.gpu_hours is not None]
    if gpu:
        console.print(f"on GPUs instead: {sum(line.gpu_hours for line in gpu):,.2f} GPU-hours for the "
                      f"{', '.join(line.what for line in gpu)} (one fit per GPU at a time)")
    for line in lines:
        console.print(f"  {line.what}: {line.detail}; {line.source}")


@app.command()
def describe(
    model: str = typer.Argument(..., help="deepfn or lenet5"),
    preset: str | None = typer.Option(None, "--preset", help="DeepFN preset: paper (Tables 1-2) or lite (default: the "
                                                             "one `deepfn` trains here: paper on a GPU, lite on CPU)."),
    aus: int = typer.Option(12, "--aus", help="LeNet-5 outputs (12 BP4D AUs, 5 for cross-dataset)."),
) -> None:
    """Print each layer's output shape and parameter count, like the paper's Tables 1-3."""
    from auditkit.layers import describe_model

    d = describe_model(model, preset, aus)
    table = Table(title=f"{d.title}: input {d.input_size}, {d.input_size}, 1")
    for col in ("block", "layer", "output", "parameters"):
        table.add_column(col, justify="right" if col == "parameters" else "left")
    for r in d.rows:
        table.add_row(r.block, r.layer, ", ".join(map(str, r.output)), f"{r.params:,}")
    console.print(table)
    for name, n in d.totals.items():
        console.print(f"{name}: {n:,} parameters")
    console.print(_styled(f"total: {d.total:,} parameters", "bold", ""))


@app.command()
def normalize(
    data: Path = typer.Argument(..., help="Dataset directory to normalize."),
    normalizer: str = typer.Option("deepfn", "--normalizer", help="Normalizer plugin."),
    out: Path | None = typer.Option(None, "--out", help="Directory for the normalized dataset."),
    template: str | None = typer.Option(None, "--template", help="Template subject (default: the most expressive)."),
    mode: str | None = typer.Option(None, "--mode", help="deepfn: amortized (CPU default) or per-subject (GPU default)."),
    preset: str | None = typer.Option(None, "--preset", help="deepfn: lite (CPU default) or paper (GPU default)."),
    iterations: int | None = typer.Option(None, "--iterations", help="deepfn: training iterations."),
    recenter: bool | None = typer.Option(None, "--recenter/--no-recenter",
                                         help="deepfn: swap each person's mean code for the template's "
                                              "(default: on in amortized mode, off per subject)."),
    person_norm: bool | None = typer.Option(None, "--person-norm/--no-person-norm",
                                            help="deepfn: BatchNorm statistics from each person's own frames (default: "
                                                 "on in amortized mode with the lite preset)."),
    center: bool | None = typer.Option(None, "--center/--no-center",
                                       help="deepfn: train on codes centered per person (default: on in amortized "
                                            "mode, off per subject, as in the paper)."),
    gradient_weight: float | None = typer.Option(None, "--gradient-weight", min=0.0,
                                                 help="deepfn: weight of the image-gradient loss term (default: 1 in "
                                                      "amortized mode, 0 per subject, as in the paper)."),
    normalizer_option: list[str] = typer.Option([], "--normalizer-option", help="Any setting of the normalizer, "
                                                "NAME.KEY=VALUE (repeatable), as for `gap`, e.g. deepfn.lr=5e-4."),
    preview: Path | None = typer.Option(None, "--preview", help="PNG: originals beside normalized faces, and "
                                                                   "average face + histogram per gender and skin type."),
    include_faces: bool = typer.Option(True, "--include-faces/--groups-only", help="Show individual faces in the preview."),
    quality: bool = typer.Option(False, "--quality", help="Synthetic data only: the transfer error of the normalized "
                                 "faces against the ideal ones (each frame rendered on the template; 0 = the oracle)."),
    seed: int = typer.Option(0, "--seed"),
    cluster: str | None = typer.Option(None, "--cluster", help="Fit and normalize as one task on a Dask cluster (a GPU "
                                       "worker where one advertises GPU): tcp://host:8786 or local:N."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Normalize every face of a dataset into a new dataset directory (any classifier can then use it)."""
    from functools import partial

    from auditkit.data import load_dataset
    from auditkit.normalizers.apply import normalize_dataset, normalize_path
    from auditkit.normalizers.preview import preview_dataset
    from auditkit.protocol.cluster import check_workers_can_read, cluster_spec, fit_threads, open_client, run_remote

    if out is None:
        raise AuditkitError("normalize: give --out DIR for the normalized dataset")
    ds = load_dataset(data)
    if quality:
        from auditkit.data.synth.truth import load_truth

        load_truth(ds)  # before any work: only synthetic datasets know the ideal face (a one-line DatasetError)
    from auditkit.plugins import parse_normalizer_options

    options = {k: v for k, v in {"mode": mode, "preset": preset, "iterations": iterations, "recenter": recenter,
                                 "person_norm": person_norm, "center": center, "gradient_weight": gradient_weight,
                                 "seed": seed}.items()
               if v is not None}
    options.update(parse_normalizer_options(normalizer_option, (normalizer,)).get(normalizer, {}))
    spec = cluster_spec(cluster)
    if spec:
        with open_client(spec) as client:
            check_workers_can_read(client, [data, Path(out).resolve().parent])
            console.print(f"normalizing on the cluster ({spec})")
            run_remote(client, partial(normalize_path, template=template, force=force, options=options), str(data),
                       normalizer, str(out), gpu=True, threads=fit_threads())
    else:
        with _lazy_progress() as report:
            normalize_dataset(ds, normalizer, out, template=template, force=force, options=options, progress=report)
    console.print(f"normalized dataset written to {out}")
    if quality:
        from auditkit.normalizers.quality import transfer_error

        normalized = load_dataset(out)
        errors = transfer_error(ds, normalized, normalized.meta["provenance"]["template"], seed=seed)
        console.print(f"transfer error (grey levels against the ideal face, {len(errors)} subjects, 20 frames each; "
                      f"0 = the oracle): {normalizer} {errors['mae_normalized'].mean():.1f} "
                      f"(per subject {errors['mae_normalized'].min():.1f}-{errors['mae_normalized'].max():.1f}), "
                      f"originals {errors['mae_original'].mean():.1f}")
    if preview is not None:
        written = preview_dataset(ds, load_dataset(out), preview, seed, include_faces)
        console.print(f"preview written to {written}")


@app.command("audit-predictions")
def audit_predictions_cmd(
    predictions: Path = typer.Argument(..., help="A predictions file, or a folder of them (SUBJECT/SEQUENCE.csv)."),
    data: Path = typer.Option(..., "--data", help="Dataset directory with the ground-truth labels and demographics."),
    attr: str = typer.Option(..., "--attr", help="gender, fitzpatrick, dataset, any subjects.parquet column, or an "
                                                 "intersection (gender,fitzpatrick)."),
    fmt: str = typer.Option("auto", "--format", help="auto, openface (2.0 FeatureExtraction), pyfeat, libreface, generic."),
    faces: str = typer.Option("best", "--faces", help="py-feat frames with several faces: best (keep the highest "
                                                      "FaceScore) or error."),
    frame_offset: int | None = typer.Option(None, "--frame-offset", help="Add this to the predictions' frame numbers "
                                            "(default: detected; 1 for 0-based tools on a 1-based dataset)."),
    bins: str | None = typer.Option(None, "--bins", help="Bins for a numeric attribute, e.g. 1-2,5-6."),
    source: str | None = typer.Option(None, "--source", help="Restrict to one source dataset."),
    out: Path | None = typer.Option(None, "--out", help="Audit directory (default: audits/predictions-<attr>)."),
    force: bool = typer.Option(False, "--force", help="Discard results of a different audit in --out (the same audit resumes)."),
    f1_no_positives: str = typer.Option("exclude", "--f1-no-positives", help="F1 of a subject who neither shows "
                                        "nor is predicted to show an AU: exclude (left out; default), one (1.0), zero (0.0)."),
) -> None:
    """Audit a model that already ran (test-only): scores per group, group differences, and the HTML report."""
    from auditkit.classifiers.prediction_files import describe_offset
    from auditkit.protocol.predictions_audit import audit_predictions
    from auditkit.report.render import build_report
    from auditkit.report.tables import audit_tables

    attrs = _attrs(attr)
    out_dir = out if out is not None else Path("audits") / ("predictions-" + "-".join(attrs))
    results, run = audit_predictions(predictions, data, attrs, out_dir, fmt=fmt, bins=bins, source=source, force=force,
                                     faces=faces, frame_offset=frame_offset, f1_rule=f1_no_positives)
    c = run["counts"]
    console.print(f"frame offset {describe_offset(c)}", markup=False)
    if c.get("frames_with_several_faces"):
        console.print(f"{c['frames_with_several_faces']} frame(s) had several faces: the one with the highest "
                      "FaceScore was kept (--faces error refuses them)")
    console.print(f"{c['files']} file(s) ({', '.join(c['formats'])}): {c['matched_frames']} frames matched, "
                  f"{c['dataset_frames_without_prediction']} dataset frames without a prediction, "
                  f"{c['predictions_without_dataset_frame']} predictions without a dataset frame, "
                  f"{c['dropped_no_face']} dropped (no face / low confidence); AUs: {', '.join(c['aus'])}")
    tables = audit_tables(results)
    _print_test_only(tables)
    print_disparities(tables)
    print_coverage("Frames the tool never served (no face, low confidence, gaps), mean share per subject",
                   run["missed_frames"])
    print_findings(tables, run)
    console.print(f"report: {build_report(out_dir, tables=tables)}")


def _print_test_only(tables) -> None:
    table = Table(title="Score (mean of F1 and accuracy, %) per tested group")
    for col in ("normalizer", "group", "score", "F1", "accuracy", "subjects"):
        table.add_column(col, justify="left" if col in ("normalizer", "group") else "right")
    for r in tables.conditions.itertuples():
        table.add_row(r.normalizer, r.test_group, f"{100 * r.score:.1f} ± {100 * r.std:.1f}", f"{100 * r.f1:.1f}",
                      f"{100 * r.accuracy:.1f}", str(r.subjects))
    console.print(table)
    for r in tables.tests.itertuples():
        effect = f"Hedges' g = {r.hedges_g:.2f}" if r.hedges_g == r.hedges_g else f"Cohen's d = {r.cohen_d:.2f}"
        console.print(f"[{r.normalizer}] {r.comparison}: {100 * r.diff:+.1f} points, p = {_fmt_p(r.p)} "
                      f"(Holm {_fmt_p(r.p_holm)}, {r.test}), {effect}")


@app.command("audit-model")
def audit_model_cmd(
    model: Path = typer.Argument(..., help="A pretrained AU model: TorchScript (.pt/.ts) or ONNX (.onnx)."),
    data: Path = typer.Option(..., "--data", help="Dataset directory with the ground-truth labels and demographics."),
    attr: str = typer.Option(..., "--attr", help="gender, fitzpatrick, dataset, any subjects.parquet column, or an "
                                                 "intersection (gender,fitzpatrick)."),
    normalizer: list[str] = typer.Option(["none"], "--normalizer", help="Normalizer(s) put in front of the model "
                                         "(none always runs too): repeat the option or give a comma list, histeq,deepfn."),
    normalizer_option: list[str] = typer.Option([], "--normalizer-option", help="A normalizer's setting, NAME.KEY=VALUE "
                                                "(repeatable), e.g. deepfn.iterations=3000."),
    card: Path | None = typer.Option(None, "--card", help="Model card JSON (default: MODEL with .json suffix)."),
    bins: str | None = typer.Option(None, "--bins", help="Bins for a numeric attribute, e.g. 1-2,5-6."),
    source: str | None = typer.Option(None, "--source", help="Restrict to one source dataset."),
    template: str | None = typer.Option(None, "--template", help="Template subject of the normalizers "
                                        "(default: the most expressive)."),
    out: Path | None = typer.Option(None, "--out", help="Audit directory (default: audits/model-<attr>)."),
    cluster: str | None = typer.Option(None, "--cluster", help="Run each normalizer's fit and predictions on a Dask "
                                       "cluster: tcp://host:8786 or local:N (default $AUDITKIT_CLUSTER)."),
    force: bool = typer.Option(False, "--force", help="Discard results of a different audit in --out (the same audit resumes)."),
    f1_no_positives: str = typer.Option("exclude", "--f1-no-positives", help="F1 of a subject who neither shows "
                                        "nor is predicted to show an AU: exclude (left out; default), one (1.0), zero (0.0)."),
) -> None:
    """Audit a pretrained model file test-only per group, with and without normalizers in front of it."""
    from auditkit.normalizers.base import with_baseline
    from auditkit.plugins import parse_normalizer_options
    from auditkit.protocol.cluster import cluster_spec
    from auditkit.protocol.model_audit import audit_model
    from auditkit.report.render import build_report
    from auditkit.report.tables import audit_tables

    attrs = _attrs(attr)
    norms = _names(normalizer)
    options = parse_normalizer_options(normalizer_option, with_baseline(norms))
    out_dir = out if out is not None else Path("audits") / ("model-" + "-".join(attrs))
    with _lazy_progress() as report:
        results, run = audit_model(model, data, attrs, out_dir, normalizers=norms, card=card, bins=bins, source=source,
                                   template=template, force=force, progress=report, normalizer_options=options,
                                   cluster=cluster_spec(cluster), f1_rule=f1_no_positives)
    console.print(f"{Path(model).name}: AUs {', '.join(run['plan']['aus'])}; "
                  f"{len(run['plan']['scope'])} subjects tested under {', '.join(run['config']['normalizers'])}")
    tables = audit_tables(results)
    _print_test_only(tables)
    print_disparities(tables)
    if run.get("ingest_losses"):
        print_coverage("Labelled frames lost at ingest (no face found), mean share per subject", run["ingest_losses"])
    console.print(f"source datasets scored: {', '.join(run.get('sources') or ['(not recorded)'])}", markup=False)
    print_findings(tables, run)
    console.print(f"report: {build_report(out_dir, tables=tables)}")


@app.command()
def compare(
    audits: list[Path] = typer.Argument(..., help="Two or more finished audit directories of one dataset and grouping "
                                               "(audit-predictions, audit-model or gap audits)."),
    out: Path = typer.Option(Path("audits") / "compare", "--out", help="Where report.html, summary.json and "
                                                                        "summary.md go (not an audit directory)."),
    name: list[str] = typer.Option([], "--name", help="A model's label, DIR=LABEL (repeatable; default: the "
                                                      "directory's name)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap and permutation resampling."),
) -> None:
    """Compare AU models side by side on the subjects they share: scores, disparities, paired tests between models."""
    from auditkit.protocol.compare import build_comparison, load_models, parse_names
    from auditkit.report.compare import build_comparison_report, check_out, sentences

    check_out(out)
    comparison = build_comparison(load_models(audits, parse_names(name, audits)), seed)
    print_leaderboard(comparison)
    console.print("Models compared in pairs (same subjects; Holm across pairs of models):", style="bold")
    for line in sentences(comparison):
        console.print(f"- {line}", markup=False, highlight=False)
    console.print(f"report: {build_comparison_report(comparison, out)}", markup=False, highlight=False)


def print_leaderboard(comparison) -> None:
    """The comparison's leaderboard at 80 columns, and what the models were paired on."""
    from auditkit.report.compare import leaderboard

    rows = leaderboard(comparison)
    pair = rows[0]["comparison"]
    columns = [("#", "right"), ("model", "left"), ("score", "right")]
    if pair:
        columns += [(pair, "right"), ("p", "right")]
    columns.append(("missed", "right"))
    c = comparison.counts[0]
    table = _compact(f"{len(rows)} models on {c['shared_subjects']} shared subjects and {c['shared_aus']} shared AUs. "
                     "Score: mean of F1 and accuracy (%); difference between groups (points); [95% bootstrap CI over "
                     "subjects]; p: permutation test of the difference", columns)
    for r in rows:
        cells = [str(r["rank"]), r["model"],
                 f"{100 * r['score']:.1f} [{100 * r['score_ci_low']:.1f}, {100 * r['score_ci_high']:.1f}]"]
        if pair:
            cells += [f"{100 * r['difference']:+.1f} [{100 * r['difference_ci_low']:+.1f}, "
                      f"{100 * r['difference_ci_high']:+.1f}]", _fmt_p(r["p"])]
        cells.append(f"{100 * r['missed_share']:.1f} %" if r["missed_share"] is not None else "-")
        table.add_row(*cells)
    console.print(table)
    for c in comparison.counts:
        if c["subjects"] != c["shared_subjects"]:
            console.print(f"  {c['model']}: {c['subjects']} subjects scored, {c['shared_subjects']} shared by every "
                          "model", markup=False, highlight=False)
    scored = {c["model"]: set(comparison.aus) | set(c["aus_left_out"]) for c in comparison.counts}
    for au in sorted(set().union(*scored.values()) - set(comparison.aus)):
        lacking = [m for m, aus in scored.items() if au not in aus]
        console.print(f"  {au} left out: not scored by {', '.join(lacking)}", markup=False, highlight=False)


@app.command()
def report(
    audit: Path = typer.Argument(..., help="Audit directory (holds results.parquet and run.json)."),
    out: Path | None = typer.Option(None, "--out", help="Report path (default: AUDIT/report.html)."),
    include_faces: bool = typer.Option(False, "--include-faces", help="Also show individual subjects' faces "
                                                                      "(off by default for privacy)."),
) -> None:
    """Rebuild the HTML report, summary.json and summary.md from an audit's results alone (no re-running)."""
    from auditkit.report.render import build_report

    console.print(f"report written to {build_report(audit, out, include_faces)}")


@app.command()
def schema(
    name: str = typer.Argument(..., help="model-card (the JSON beside a model file) or dataset (dataset.json)."),
    check: Path | None = typer.Option(None, "--check", help="Validate this file instead of printing the schema."),
) -> None:
    """Print the JSON Schema of a model card or of dataset.json, or check a file against it (one-line errors)."""
    import json

    from auditkit.classifiers.pretrained import ModelCard, read_card
    from auditkit.data.validate import DatasetMeta, read_meta

    kinds = {"model-card": (ModelCard, lambda path: read_card(path, path)), "dataset": (DatasetMeta, read_meta)}
    if name not in kinds:
        raise AuditkitError(f"schema: unknown name {name!r} (choose from {', '.join(kinds)})")
    model, read = kinds[name]
    if check is None:
        print(json.dumps(model.model_json_schema(), indent=2))
        return
    if not check.is_file():
        raise AuditkitError(f"{check}: file not found")
    read(check)
    console.print(f"{check}: a valid {name}", soft_wrap=True, highlight=False)


@app.command()
def plugins() -> None:
    """List installed normalizers, classifiers and dataset sources (entry points)."""
    from auditkit.plugins import available

    table = Table(title="Installed plugins")
    for col in ("kind", "name", "provided by"):
        table.add_column(col)
    for kind in ("normalizer", "classifier", "dataset"):
        for name, ep in sorted(available(kind).items()):
            table.add_row(kind, name, ep.value)
    console.print(table)


def _usage_line(exc: Exception) -> str:
    """A usage error in one line: the option, the value given (the framework's message leaves it out) and the help."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.info_name if ctx is not None and ctx.parent is not None else ""
    more = f" (see `auditkit {command} --help`)" if command else " (see `auditkit --help`)"
    param = getattr(exc, "param", None)
    if isinstance(exc, typer.BadParameter) and param is not None and getattr(param, "opts", None):
        args = sys.argv[1:]
        given = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in param.opts), None)
        given = given if given is not None else next((a.split("=", 1)[1] for a in args
                                                      if a.split("=", 1)[0] in param.opts and "=" in a), None)
        kind = {"integer": "a whole number", "float": "a number"}.get(getattr(getattr(param, "type", None), "name", ""))
        kind = kind or ("a whole number" if "valid integer" in exc.message else None)
        if given is not None and kind:
            return f"{param.opts[-1]}: expected {kind}, got {given!r}{more}"
        if given is not None:
            return f"{param.opts[-1]}: invalid value {given!r}: {exc.message}{more}"
    return f"{exc.format_message()}{more}"


def main() -> None:
    """Console-script entry: run the app, turning user-facing errors into one line and a non-zero exit."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)  # usage errors come here, to be said in one line with the value given
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Abort:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # the command line itself: an unknown option, a missing or unreadable value
        if not hasattr(exc, "format_message"):
            raise
        err_console.print(_styled("error:", "red", f" {_usage_line(exc)}"), highlight=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except AuditkitError as exc:
        err_console.print(_styled("error:", "red", f" {exc}"), highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except OSError as exc:  # an unwritable --out, a full disk, a vanished file: the user's path, not a bug
        where = exc.filename if exc.filename is not None else "a file"
        why = exc.strerror or (exc.args[0] if exc.args else exc.__class__.__name__)
        err_console.print(_styled("error:", "red", f" {where}: {why}"), highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # a bug, not bad input: still one line unless the user asks for the traceback
        if os.environ.get("AUDITKIT_DEBUG"):
            raise
        err_console.print(_styled("internal error:", "red", f" {exc.__class__.__name__}: {exc} (set AUDITKIT_DEBUG=1 for the "
                                                            "traceback)"),
                          highlight=False, soft_wrap=True)
        sys.exit(1)
