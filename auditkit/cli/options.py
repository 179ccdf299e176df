"""Options several commands share, as Typer `Annotated` aliases: one spelling and one help text for each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

F1NoPositives = Annotated[str, typer.Option(
    "--f1-no-positives", help="F1 of a subject who neither shows nor is predicted to show an AU: exclude (left out; "
                              "default), one (1.0), zero (0.0).")]
NormalizerOptions = Annotated[list[str] | None, typer.Option(
    "--normalizer-option", help="A normalizer's setting, NAME.KEY=VALUE (repeatable), e.g. deepfn.mode=per-subject "
                                "deepfn.iterations=3000; values are read as the setting's type.")]
Bins = Annotated[str | None, typer.Option("--bins", help="Bins for a numeric attribute, e.g. 1-2,3-4,5-6.")]
Source = Annotated[str | None, typer.Option("--source", help="Restrict to one source dataset ('all' for every one).")]
Force = Annotated[bool, typer.Option("--force", help="Discard results of a different audit in --out (the same audit "
                                                     "resumes without it).")]
Template = Annotated[str | None, typer.Option("--template", help="Template subject of the normalizers (default: the "
                                                                 "most expressive).")]
DefaultData = Annotated[Path | None, typer.Option("--data", help="Dataset directory (default: the synthetic "
                                                                 "benchmark).")]
LabelledData = Annotated[Path, typer.Option("--data", help="Dataset directory with the ground-truth labels and "
                                                           "demographics.")]
TestedAttr = Annotated[str, typer.Option("--attr", help="gender, fitzpatrick, dataset, any subjects.parquet column, "
                                                        "or an intersection (gender,fitzpatrick).")]
Repeats = Annotated[int | None, typer.Option("--repeats", help="Repetitions (overrides the preset; paper: 20).")]
NTrain = Annotated[int, typer.Option("--train", help="Training subjects per draw.")]
NVal = Annotated[int, typer.Option("--val", help="Validation subjects per draw.")]
