"""The `auditkit` command line: the only place that parses user input."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from auditkit import __version__
from auditkit.errors import AuditkitError

app = typer.Typer(
    name="auditkit",
    help="Fairness audits for facial action unit recognition (within- vs cross-group gaps, DeepFN normalization).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)


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


@app.command()
def synth(
    out: Optional[Path] = typer.Option(None, "--out", help="Directory to write the dataset into."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives byte-identical files."),
    frames_per_subject: int = typer.Option(300, "--frames-per-subject", min=1, help="Frames rendered per subject."),
    preview: Optional[Path] = typer.Option(None, "--preview", help="Write a contact sheet PNG (neutral and each AU)."),
    jobs: int = typer.Option(-1, "--jobs", help="Worker processes (-1: all cores)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing output directory."),
) -> None:
    """Render the synthetic face-AU benchmark (BP4D-like and DISFA-like subjects)."""
    from auditkit.data.synth.generate import SynthConfig, generate, make_identities
    from auditkit.data.synth.preview import write_contact_sheet

    if out is None and preview is None:
        raise AuditkitError("synth: give --out DIR to write a dataset and/or --preview PNG for a contact sheet")
    cfg = SynthConfig(seed=seed, frames_per_subject=frames_per_subject)
    if preview is not None:
        path = write_contact_sheet(make_identities(cfg), preview)
        console.print(f"contact sheet written to {path}")
    if out is not None:
        with _progress() as bar:
            task = bar.add_task("rendering subjects", total=None)
            generate(out, cfg, n_jobs=jobs, force=force, progress=lambda done, total: bar.update(task, completed=done, total=total))
        console.print(f"dataset written to {out}  (next: auditkit inspect {out})")


@app.command()
def inspect(data: Path = typer.Argument(..., help="Dataset directory.")) -> None:
    """Validate a dataset directory and print who is in it and how often each AU occurs."""
    from auditkit.data import load_dataset
    from auditkit.data.inspect import summarize

    ds = load_dataset(data)
    summary = summarize(ds)
    h, w = ds.image_size
    console.print(f"[bold]{data}[/]  fingerprint {ds.fingerprint}  faces {len(ds.faces)} x {h}x{w}  "
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


def main() -> None:
    """Console-script entry: run the app, turning user-facing errors into one line and a non-zero exit."""
    try:
        app()  # standalone mode: Typer reports usage errors itself (exit 2)
    except AuditkitError as exc:
        err_console.print(f"[red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except Exception as exc:  # a bug, not bad input: still one line unless the user asks for the traceback
        if os.environ.get("AUDITKIT_DEBUG"):
            raise
        err_console.print(f"[red]internal error:[/] {exc.__class__.__name__}: {exc} (set AUDITKIT_DEBUG=1 for the traceback)",
                          highlight=False, soft_wrap=True)
        sys.exit(1)
