"""Commands on models that already exist: audit-predictions, audit-model, compare."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from auditkit.cli.base import _attrs, _lazy_progress, _names, app, console
from auditkit.cli.options import (
    Bins,
    F1NoPositives,
    Force,
    LabelledData,
    NormalizerOptions,
    Source,
    Template,
    TestedAttr,
)
from auditkit.cli.printing import _print_test_only, print_coverage, print_disparities, print_findings, print_leaderboard


@app.command("audit-predictions")
def audit_predictions_cmd(
    predictions: Annotated[
        Path, typer.Argument(help="A predictions file, or a folder of them (SUBJECT/SEQUENCE.csv).")
    ],
    data: LabelledData,
    attr: TestedAttr,
    fmt: str = typer.Option(
        "auto", "--format", help="auto, openface (2.0 FeatureExtraction), pyfeat, libreface, generic."
    ),
    faces: str = typer.Option(
        "best", "--faces", help="py-feat frames with several faces: best (keep the highest FaceScore) or error."
    ),
    frame_offset: int | None = typer.Option(
        None,
        "--frame-offset",
        help="Add this to the predictions' frame numbers "
        "(default: detected; 1 for 0-based tools on a 1-based dataset).",
    ),
    bins: Bins = None,
    source: Source = None,
    out: Path | None = typer.Option(None, "--out", help="Audit directory (default: audits/predictions-<attr>)."),
    force: Force = False,
    f1_no_positives: F1NoPositives = "exclude",
) -> None:
    """Audit a model that already ran (test-only): scores per group, group differences, and the HTML report."""
    import auditkit
    from auditkit.classifiers.prediction_files import describe_offset

    attrs = _attrs(attr)
    out_dir = out if out is not None else Path("audits") / ("predictions-" + "-".join(attrs))
    result = auditkit.audit_predictions(predictions, data, attr=list(attrs), out=out_dir, format=fmt, bins=bins,
                                        source=source, faces=faces, frame_offset=frame_offset, force=force,
                                        f1_rule=f1_no_positives)
    run, tables = result.run, result.tables
    c = run["counts"]
    console.print(f"frame offset {describe_offset(c)}", markup=False)
    if c.get("frames_with_several_faces"):
        console.print(f"{c['frames_with_several_faces']} frame(s) had several faces: the one with the highest "
                      "FaceScore was kept (--faces error refuses them)")
    console.print(f"{c['files']} file(s) ({', '.join(c['formats'])}): {c['matched_frames']} frames matched, "
                  f"{c['dataset_frames_without_prediction']} dataset frames without a prediction, "
                  f"{c['predictions_without_dataset_frame']} predictions without a dataset frame, "
                  f"{c['dropped_no_face']} dropped (no face / low confidence); AUs: {', '.join(c['aus'])}")
    _print_test_only(tables)
    print_disparities(tables)
    print_coverage("Frames the tool never served (no face, low confidence, gaps), mean share per subject",
                   run["missed_frames"])
    print_findings(tables, run)
    console.print(f"report: {result.to_html()}")


@app.command("audit-model")
def audit_model_cmd(
    model: Annotated[Path, typer.Argument(help="A pretrained AU model: TorchScript (.pt/.ts) or ONNX (.onnx).")],
    data: LabelledData,
    attr: TestedAttr,
    normalizer: list[str] = typer.Option(
        ["none"],
        "--normalizer",
        help="Normalizer(s) put in front of the model "
        "(none always runs too): repeat the option or give a comma list, histeq,deepfn.",
    ),
    normalizer_option: NormalizerOptions = None,
    card: Path | None = typer.Option(None, "--card", help="Model card JSON (default: MODEL with .json suffix)."),
    bins: Bins = None,
    source: Source = None,
    template: Template = None,
    out: Path | None = typer.Option(None, "--out", help="Audit directory (default: audits/model-<attr>)."),
    cluster: str | None = typer.Option(
        None,
        "--cluster",
        help="Run each normalizer's fit and predictions on a Dask "
        "cluster: tcp://host:8786 or local:N (default $AUDITKIT_CLUSTER).",
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the normalizers' fits."),
    force: Force = False,
    f1_no_positives: F1NoPositives = "exclude",
) -> None:
    """Audit a pretrained model file test-only per group, with and without normalizers in front of it."""
    import auditkit
    from auditkit.normalizers.base import with_baseline
    from auditkit.plugins import parse_normalizer_options

    attrs = _attrs(attr)
    norms = _names(normalizer)
    options = parse_normalizer_options(normalizer_option, with_baseline(norms))
    out_dir = out if out is not None else Path("audits") / ("model-" + "-".join(attrs))
    with _lazy_progress() as report:
        result = auditkit.audit_model(model, data, attr=list(attrs), normalizers=list(norms), out=out_dir, card=card,
                                      bins=bins, source=source, template=template, normalizer_options=options,
                                      seed=seed, force=force, cluster=cluster, f1_rule=f1_no_positives,
                                      progress=report)
    run, tables = result.run, result.tables
    console.print(f"{Path(model).name}: AUs {', '.join(run['plan']['aus'])}; "
                  f"{len(run['plan']['scope'])} subjects tested under {', '.join(run['config']['normalizers'])}")
    _print_test_only(tables)
    print_disparities(tables)
    if run.get("ingest_losses"):
        print_coverage("Labelled frames lost at ingest (no face found), mean share per subject", run["ingest_losses"])
    console.print(f"source datasets scored: {', '.join(run.get('sources') or ['(not recorded)'])}", markup=False)
    print_findings(tables, run)
    console.print(f"report: {result.to_html()}")


@app.command()
def compare(
    audits: list[Path] = typer.Argument(..., help="Two or more finished audit directories of one dataset and grouping "
                                               "(audit-predictions, audit-model or gap audits)."),
    out: Path = typer.Option(Path("audits") / "compare", "--out", help="Where report.html, summary.json and "
                                                                        "summary.md go (not an audit directory)."),
    name: list[str] = typer.Option([], "--name", help="A model's label, DIR=LABEL (repeatable; default: the "
                                                      "directory's name)."),
    seed: int = typer.Option(0, "--seed", help="Kept for scripts; the comparison's inference is deterministic."),
) -> None:
    """Compare AU models side by side on the subjects they share: scores, disparities, paired tests between models."""
    from auditkit.api import compare as run_compare
    from auditkit.protocol.audit_dir import REPORT_FILE
    from auditkit.protocol.comparison import parse_names
    from auditkit.report.comparison_report import sentences

    result = run_compare(audits, names=parse_names(name, audits), out=out, seed=seed)
    print_leaderboard(result.comparison)
    console.print("Models compared in pairs (same subjects; Holm across pairs of models):", style="bold")
    for line in sentences(result.comparison):
        console.print(f"- {line}", markup=False, highlight=False)
    console.print(f"report: {result.out / REPORT_FILE}", markup=False, highlight=False)
