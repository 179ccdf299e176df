"""Commands on datasets: synth, ingest, merge, inspect, schema."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from auditkit.cli.base import _lazy_progress, _styled, app, console, err_console
from auditkit.errors import AuditkitError


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
            generate(
                out,
                cfg,
                n_jobs=jobs,
                force=force,
                progress=lambda done, total: report("rendering subjects", done, total),
            )
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
    source: str = typer.Argument(
        ...,
        help="Which dataset's distributed layout: bp4d, disfa, or an installed "
        "`auditkit.datasets` plugin (the options below marked BP4D/DISFA are theirs).",
    ),
    root: Path = typer.Argument(..., help="The dataset's root folder as unpacked from the licensed copy."),
    out: Path = typer.Option(..., "--out", help="Dataset directory to write."),
    demographics: Path | None = typer.Option(
        None, "--demographics", help="CSV/Parquet keyed by subject: gender, fitzpatrick, age, ethnicity, ..."
    ),
    aus: str | None = typer.Option(
        None, "--aus", help="AUs to keep, e.g. 1,2,4 (default: the dataset's usual 12; 'all': every AU in the files)."
    ),
    camera: str = typer.Option("left", "--camera", help="DISFA: which camera's videos (left or right)."),
    threshold: int | None = typer.Option(None, "--threshold", help="DISFA: intensity counted as present (default 2)."),
    allow_missing_demographics: bool = typer.Option(
        False, "--allow-missing-demographics", help="Keep subjects without a demographics row (empty attributes)."
    ),
    skip_unreadable: bool = typer.Option(
        False, "--skip-unreadable", help="Record and skip unreadable images instead of stopping."
    ),
    size: int = typer.Option(128, "--size", min=32, help="Side of the aligned face crops in pixels."),
    detector: str = typer.Option(
        "haar",
        "--detector",
        help="Face detector: haar (OpenCV, default) or dlib-hog (misses fewer expressive faces; needs auditkit[dlib]).",
    ),
    jobs: int = typer.Option(-1, "--jobs", help="Worker processes (-1: all cores)."),
    force: bool = typer.Option(
        False, "--force", help="Replace an existing output (or a partial one with other options)."
    ),
) -> None:
    """Ingest BP4D-Spontaneous or DISFA from their distributed layout: labels, face crops, demographics.

    Interrupted runs resume: run the same command again.
    """
    import auditkit

    with _lazy_progress() as report:
        stats = auditkit.ingest(source, root, out, demographics=demographics, aus=aus, camera=camera,
                                threshold=threshold, allow_missing_demographics=allow_missing_demographics,
                                skip_unreadable=skip_unreadable, size=size, detector=detector, jobs=jobs, force=force,
                                progress=lambda done, total: report(f"ingesting {source} frames", done, total))
    if "frames_kept" not in stats:  # a third-party source, installed as an `auditkit.datasets` plugin
        console.print(f"dataset written to {stats['out']}  (next: auditkit inspect {stats['out']})")
        return
    missing, unused = stats["missing_demographics"], stats["unused_demographics"]
    if missing:
        err_console.print(_styled("warning:", "yellow", f" {len(missing)} subjects have no demographics row: "
                                  f"{', '.join(missing)}"))
    if unused:
        err_console.print(_styled("note:", "yellow", f" {len(unused)} demographics rows match no subject in "
                          f"{root}: {', '.join(unused)}"))
    console.print(
        f"{stats['frames_kept']} of {stats['frames_labelled']} labelled frames kept; no face found in "
        f"{stats['no_face']}, unreadable {stats['unreadable']} (listed in {out / stats['skipped_frames_file']}); "
        f"{stats['unlabelled_frames_skipped']} unlabelled frames skipped"
    )
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
    import auditkit

    result = auditkit.inspect(data)
    problems = result.problems
    if len(problems) == 1:
        raise problems[0]
    if problems:
        for problem in problems:
            err_console.print(_styled("error:", "red", f" {problem}"), highlight=False, soft_wrap=True)
        raise AuditkitError(f"{data}: {len(problems)} problem{'s' if len(problems) > 1 else ''} found (listed above)")
    h, w = result.image_size
    console.print(_styled(str(data), "bold", "") + f"  fingerprint {result.fingerprint}  faces {result.faces} x "
                  f"{h}x{w}  subjects {int(result.subjects['subjects'].sum())}  frames {result.frames}")
    # one column per source dataset, one row per count: attributes add rows, not columns, so names are never cut
    table = Table(title="Subjects per source dataset")
    counts = result.subjects.set_index("dataset")
    table.add_column("", justify="left", no_wrap=True)
    for source in counts.index:
        table.add_column(str(source), justify="right", no_wrap=True)
    for col in counts.columns:
        table.add_row(str(col), *[str(int(v)) for v in counts[col]])
    console.print(table)
    aus = Table(title="Action units: base rate among coded frames (coded fraction)")
    aus.add_column("AU")
    sources = sorted(result.aus["dataset"].unique())
    for s in sources:
        aus.add_column(s, justify="right")
    for au, grp in result.aus.groupby("au", sort=False):
        cells = []
        for s in sources:
            r = grp[grp["dataset"] == s].iloc[0]
            cells.append("not coded" if r["coded"] == 0 else f"{r['base_rate']:.1%} ({r['coded']:.0%})")
        aus.add_row(au, *cells)
    console.print(aus)
    splits = Table(title="Can the default protocol run? (4 train + 2 validation subjects per group, test on the rest)")
    for col in ("split", "runs", "groups (subjects)"):
        splits.add_column(col)
    for row in result.splits.itertuples(index=False):
        splits.add_row(row.attr, "yes" if row.runs else "no", row.groups if row.runs else row.why)
    console.print(splits)


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
