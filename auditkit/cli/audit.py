"""Commands of the generalization audit: gap, plan, report."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from auditkit.cli.base import _attrs, _ensure_default_data, _lazy_progress, _names, app, console
from auditkit.cli.options import (
    Bins,
    DefaultData,
    F1NoPositives,
    Force,
    NormalizerOptions,
    NTrain,
    NVal,
    Repeats,
    Source,
    Template,
)
from auditkit.cli.printing import _compact, print_coverage, print_disparities, print_findings, print_summary
from auditkit.errors import AuditkitError

if TYPE_CHECKING:
    import pandas as pd


@app.command()
def gap(
    attr: str = typer.Option(
        ...,
        "--attr",
        help="person, gender, fitzpatrick, dataset, any subjects.parquet column, "
        "or a comma-separated intersection (gender,fitzpatrick).",
    ),
    normalizer: list[str] = typer.Option(
        ["none"],
        "--normalizer",
        help="Normalizer(s): repeat the option or give a comma list (histeq,deepfn); 'none' always runs as baseline.",
    ),
    normalizer_option: NormalizerOptions = None,
    classifier: str = typer.Option("lenet5", "--classifier", help="AU classifier plugin."),
    data: DefaultData = None,
    out: Path | None = typer.Option(None, "--out", help="Audit directory (default: audits/<attr>)."),
    preset: str = typer.Option(
        "default", "--preset", help="default (minutes on CPU), paper (the paper's protocol), smoke."
    ),
    repeats: Repeats = None,
    n_train: NTrain = 4,
    n_val: NVal = 2,
    bins: Bins = None,
    source: Source = None,
    template: Template = None,
    epochs: int | None = typer.Option(None, "--epochs", help="Training epochs (overrides the preset)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the subject draws and trainings."),
    jobs: int = typer.Option(-1, "--jobs", help="Parallel trainings (-1: one per core)."),
    cluster: str | None = typer.Option(
        None,
        "--cluster",
        help="Run the trainings on a Dask cluster: a scheduler "
        "address (tcp://host:8786) or local:N (N worker processes here); default "
        "$AUDITKIT_CLUSTER. Needs auditkit[cluster].",
    ),
    force: Force = False,
    include_faces: bool = typer.Option(
        False,
        "--include-faces",
        help="Show individual faces in the report (default: group averages of >= 5 people only).",
    ),
    f1_no_positives: F1NoPositives = "exclude",
    strict_reproducibility: bool = typer.Option(
        False,
        "--strict-reproducibility",
        help="Refuse to resume work made "
        "in another environment (CPU, classifier runtime, library versions, "
        "revision) or to use cluster workers that differ; by default such a "
        "resume warns and records both.",
    ),
) -> None:
    """Train within-group and cross-group AU models and report the generalization gap with significance tests."""
    import auditkit
    from auditkit.normalizers.base import with_baseline
    from auditkit.plugins import parse_normalizer_options

    attrs = _attrs(attr)
    data_dir = data if data is not None else _ensure_default_data(attrs)
    out_dir = out if out is not None else Path("audits") / "-".join(attrs)
    norms = _names(normalizer)
    options = parse_normalizer_options(normalizer_option, with_baseline(norms))
    with _lazy_progress() as report:
        try:
            result = auditkit.gap(data_dir, attr=list(attrs), normalizers=list(norms), preset=preset, out=out_dir,
                                  classifier=classifier, normalizer_options=options, repeats=repeats, seed=seed,
                                  n_train=n_train, n_val=n_val, bins=bins, source=source, template=template,
                                  epochs=epochs, f1_rule=f1_no_positives, jobs=jobs, force=force, cluster=cluster,
                                  strict_reproducibility=strict_reproducibility, include_faces=include_faces,
                                  progress=report)
        except KeyboardInterrupt:
            raise AuditkitError(
                f"interrupted: finished trainings are kept in {out_dir}; re-run the same command to resume") from None
    tables = result.tables
    print_summary(tables)
    print_disparities(tables)
    losses = result.run.get("ingest_losses")
    if losses:
        print_coverage("Labelled frames lost at ingest (no face found), mean share per subject", losses)
    print_findings(tables, result.run)
    console.print(f"report: {result.to_html()}  (summary.json, summary.md beside it)")
    console.print(f"results: {out_dir / 'results.parquet'}  config: {out_dir / 'run.json'}")


@app.command()
def plan(
    attr: str = typer.Option(..., "--attr", help="As for `auditkit gap`."),
    normalizer: list[str] = typer.Option(["none"], "--normalizer", help="Normalizer(s), as for `auditkit gap`."),
    normalizer_option: NormalizerOptions = None,
    data: DefaultData = None,
    bins: Bins = None,
    source: Source = None,
    preset: str = typer.Option("default", "--preset", help="default, paper or smoke."),
    repeats: Repeats = None,
    n_train: NTrain = 4,
    n_val: NVal = 2,
    cores: int = typer.Option(2, "--cores", help="CPU cores to express the wall time on."),
    pilot: Path | None = typer.Option(None, "--pilot", help="A finished `gap` audit of this design: also say how "
                                      "many repetitions give intervals of --half-width."),
    half_width: float = typer.Option(3.0, "--half-width", help="With --pilot: the wanted half-width of each 95% "
                                     "interval, in points."),
) -> None:
    """Count an audit's trainings and normalizer fits and estimate their CPU/GPU hours, to size a cluster first; with
    --pilot, the repetitions its intervals need to reach a precision."""
    import auditkit
    from auditkit.normalizers.base import with_baseline
    from auditkit.plugins import parse_normalizer_options

    attrs = _attrs(attr)
    data_dir = data if data is not None else _ensure_default_data(attrs)
    norms = _names(normalizer)
    options = parse_normalizer_options(normalizer_option, with_baseline(norms))
    result = auditkit.plan(data_dir, attr=list(attrs), normalizers=list(norms), preset=preset,
                           normalizer_options=options, repeats=repeats, n_train=n_train, n_val=n_val, bins=bins,
                           source=source, pilot=pilot, half_width=half_width)
    table = _compact(f"auditkit gap --attr {attr} --preset {preset}: {result.subjects_in_scope} of {result.subjects} "
                     f"subjects in scope (source {result.source}), {result.frames_in_scope:,} frames",
                     [("work", "left"), ("count", "right"), ("CPU core-h", "right"), ("GPU h", "right")])
    lines = list(result.costs.itertuples())
    for line in lines:
        table.add_row(line.what, f"{line.count:,}", f"{line.cpu_core_hours:,.2f}",
                      "not measured" if line.gpu_hours != line.gpu_hours else f"{line.gpu_hours:,.2f}")
    console.print(table)
    total = result.cpu_core_hours
    stopping = ("an upper bound for trainings: early stopping ends many sooner" if result.early_stopping
                else f"every training runs all {result.epochs} epochs: this preset has no early stopping")
    console.print(f"total {total:,.2f} CPU core-hours: ~{total / max(cores, 1):,.2f} h on {cores} cores ({stopping})")
    gpu = [line for line in lines if line.gpu_hours == line.gpu_hours]
    if gpu:
        console.print(f"on GPUs instead: {sum(line.gpu_hours for line in gpu):,.2f} GPU-hours for the "
                      f"{', '.join(line.what for line in gpu)} (one fit per GPU at a time)")
    for line in lines:
        console.print(f"  {line.what}: {line.detail}; {line.source}")
    if result.precision is not None:
        _print_precision(result.precision, pilot, half_width)


def _print_precision(rows: pd.DataFrame, pilot: Path | None, half_width: float) -> None:
    """The repetitions each headline quantity of a pilot audit needs for +-half_width points (auditkit.precision)."""
    table = _compact(f"Precision from the pilot {pilot}: repetitions for 95% intervals of +-{half_width:g} points "
                     "(people and trainings counted; the trainings' part shrinks with more repetitions, the "
                     "people's does not)",
                     [("normalizer", "left"), ("quantity", "left"), ("estimate", "right"), ("now +-", "right"),
                      ("reps", "right"), ("subj.", "right"), ("reps needed", "right")])
    for r in rows.itertuples():
        needed = "more people" if r.repetitions_needed != r.repetitions_needed else str(int(r.repetitions_needed))
        table.add_row(r.normalizer, r.quantity, f"{r.estimate:+.1f}", f"{r.half_width:.1f}", str(r.repetitions),
                      str(r.subjects), needed)
    console.print(table)


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
