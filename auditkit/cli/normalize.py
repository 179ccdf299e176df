"""Commands on normalizers and models: normalize, describe."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from auditkit.cli.base import _lazy_progress, _styled, app, console
from auditkit.cli.options import NormalizerOptions, Template
from auditkit.errors import AuditkitError


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
    template: Template = None,
    mode: str | None = typer.Option(
        None, "--mode", help="deepfn: amortized (CPU default) or per-subject (GPU default)."
    ),
    preset: str | None = typer.Option(None, "--preset", help="deepfn: lite (CPU default) or paper (GPU default)."),
    iterations: int | None = typer.Option(None, "--iterations", help="deepfn: training iterations."),
    recenter: bool | None = typer.Option(
        None,
        "--recenter/--no-recenter",
        help="deepfn: swap each person's mean code for the template's "
        "(default: on in amortized mode, off per subject).",
    ),
    person_norm: bool | None = typer.Option(
        None,
        "--person-norm/--no-person-norm",
        help="deepfn: BatchNorm statistics from each person's own frames (default: "
        "on in amortized mode with the lite preset).",
    ),
    center: bool | None = typer.Option(
        None,
        "--center/--no-center",
        help="deepfn: train on codes centered per person (default: on in amortized "
        "mode, off per subject, as in the paper).",
    ),
    gradient_weight: float | None = typer.Option(
        None,
        "--gradient-weight",
        min=0.0,
        help="deepfn: weight of the image-gradient loss term (default: 1 in "
        "amortized mode, 0 per subject, as in the paper).",
    ),
    normalizer_option: NormalizerOptions = None,
    preview: Path | None = typer.Option(
        None,
        "--preview",
        help="PNG: originals beside normalized faces, and average face + histogram per gender and skin type.",
    ),
    include_faces: bool = typer.Option(
        True, "--include-faces/--groups-only", help="Show individual faces in the preview."
    ),
    quality: bool = typer.Option(
        False,
        "--quality",
        help="Synthetic data only: the transfer error of the normalized "
        "faces against the ideal ones (each frame rendered on the template; 0 = the oracle).",
    ),
    seed: int = typer.Option(0, "--seed"),
    cluster: str | None = typer.Option(
        None,
        "--cluster",
        help="Fit and normalize as one task on a Dask cluster (a GPU "
        "worker where one advertises GPU): tcp://host:8786 or local:N.",
    ),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Normalize every face of a dataset into a new dataset directory (any classifier can then use it)."""
    from auditkit.api import normalize as run_normalize
    from auditkit.plugins import parse_normalizer_options
    from auditkit.protocol.cluster import cluster_spec

    if out is None:
        raise AuditkitError("normalize: give --out DIR for the normalized dataset")
    options = {
        k: v
        for k, v in {
            "mode": mode,
            "preset": preset,
            "iterations": iterations,
            "recenter": recenter,
            "person_norm": person_norm,
            "center": center,
            "gradient_weight": gradient_weight,
        }.items()
        if v is not None
    }
    options.update(parse_normalizer_options(normalizer_option, (normalizer,)).get(normalizer, {}))
    spec = cluster_spec(cluster)
    if spec:
        console.print(f"normalizing on the cluster ({spec})")
    with _lazy_progress() as report:
        result = run_normalize(data, out, normalizer=normalizer, options=options, template=template, seed=seed,
                               force=force, cluster=spec, preview=preview, include_faces=include_faces,
                               quality=quality, progress=report)
    console.print(f"normalized dataset written to {out}")
    if result.transfer_error is not None:
        errors = result.transfer_error
        console.print(f"transfer error (grey levels against the ideal face, {len(errors)} subjects, 20 frames each; "
                      f"0 = the oracle): {normalizer} {errors['mae_normalized'].mean():.1f} "
                      f"(per subject {errors['mae_normalized'].min():.1f}-{errors['mae_normalized'].max():.1f}), "
                      f"originals {errors['mae_original'].mean():.1f}")
    if result.preview is not None:
        console.print(f"preview written to {result.preview}")
