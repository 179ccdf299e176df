"""The command line: help, version, synth, inspect, and one-line errors with a non-zero exit."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditkit import __version__
from tests.helpers import one_line, run_cli


@pytest.mark.slow
def test_version_and_help() -> None:
    assert run_cli("--version").stdout.strip() == f"auditkit {__version__}"
    out = run_cli("--help").stdout
    assert "synth" in out and "inspect" in out


@pytest.mark.slow
def test_inspect_prints_summary(tiny_dataset: Path) -> None:
    res = run_cli("inspect", str(tiny_dataset))
    assert res.returncode == 0, res.stderr
    assert "bp4d-synth" in res.stdout and "AU12" in res.stdout and "not coded" in res.stdout
    # on an 80-column terminal no name or heading is cut short ("subjec…", "bp4d-s…")
    narrow = subprocess.run([sys.executable, "-m", "auditkit", "inspect", str(tiny_dataset)], capture_output=True,
                            text=True, timeout=300, env={**os.environ, "COLUMNS": "80"})
    assert narrow.returncode == 0 and "…" not in narrow.stdout, narrow.stdout
    assert "bp4d-synth" in narrow.stdout and "subjects" in narrow.stdout
    assert max(len(line) for line in narrow.stdout.splitlines()) <= 80


@pytest.mark.slow
def test_inspect_bad_dataset_is_one_line(dataset_copy: Path) -> None:
    (dataset_copy / "frames.parquet").write_bytes(b"junk")
    res = run_cli("inspect", str(dataset_copy))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "frames.parquet" in lines[0] and "not a readable Parquet" in lines[0]


@pytest.mark.slow
def test_inspect_lists_every_problem_then_a_count(dataset_copy: Path) -> None:
    import pandas as pd

    frames = pd.read_parquet(dataset_copy / "frames.parquet")
    frames.loc[0, "AU12"] = 7
    frames.loc[1, "AU04"] = 8
    frames.to_parquet(dataset_copy / "frames.parquet", index=False)
    (dataset_copy / "faces.npy").unlink()
    res = run_cli("inspect", str(dataset_copy))
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert res.returncode == 2 and len(lines) == 4, res.stderr
    assert "faces.npy: file is missing" in lines[0] and "'AU04': value 8" in lines[1] and "'AU12': value 7" in lines[2]
    assert lines[3].endswith("3 problems found (listed above)")


@pytest.mark.slow
def test_inspect_shows_which_splits_can_run(tiny_dataset: Path) -> None:
    res = run_cli("inspect", str(tiny_dataset))
    assert "Can the default protocol run?" in res.stdout and "fitzpatrick" in res.stdout


@pytest.mark.slow
def test_synth_needs_a_target() -> None:
    res = run_cli("synth")
    assert res.returncode == 2 and "--out" in res.stderr


@pytest.mark.slow
def test_synth_preview_png(tmp_path: Path) -> None:
    png = tmp_path / "sheet.png"
    res = run_cli("synth", "--preview", str(png))
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_synth_then_inspect(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    res = run_cli("synth", "--out", str(out), "--frames-per-subject", "4", "--seed", "5")
    assert res.returncode == 0, res.stderr
    res = run_cli("inspect", str(out))
    assert res.returncode == 0, res.stderr
    assert "68" in res.stdout  # 41 + 27 subjects
    again = run_cli("synth", "--out", str(out), "--frames-per-subject", "4")
    assert again.returncode == 2 and "already exists" in again.stderr


@pytest.mark.slow
def test_gap_prints_table_and_gap(audit_dataset: Path, tmp_path: Path) -> None:
    res = run_cli(
        "gap", "--attr", "gender", "--data", str(audit_dataset), "--out", str(tmp_path / "g"), "--preset", "smoke",
        "--repeats", "1", "--train", "2", "--val", "1", "--jobs", "1", "--normalizer", "histeq,none",
    )
    assert res.returncode == 0, res.stderr
    assert "female -> male" in res.stdout.replace("\n", " ") or "female" in res.stdout
    assert "histeq" in res.stdout  # a comma list is as good as a repeated option
    # readable at 80 columns (the width rich assumes without a terminal): nothing cut off, no line too long
    assert "…" not in res.stdout and max(len(line) for line in res.stdout.splitlines()) <= 80
    assert "Generalization gap" in res.stdout and "results.parquet" in res.stdout
    assert "Disparities between test groups" in res.stdout and "Between groups: signed difference" in res.stdout
    # stderr is not a terminal here: plain progress lines, no live bar
    assert any(line.startswith("trainings: ") and "elapsed" in line for line in res.stderr.splitlines())
    assert "━" not in res.stderr


@pytest.mark.parametrize("args, message", [
    (["--attr", "height"], "column 'height': unknown attribute"),
    (["--attr", "fitzpatrick"], "needs at least 7"),
    (["--attr", "gender", "--normalizer", "magic"], "unknown normalizer 'magic'"),
    (["--attr", "gender", "--preset", "fastest"], "unknown preset"),
    (["--attr", "gender", "--source", "ck+"], "no subjects from 'ck+'"),
])
@pytest.mark.slow
def test_gap_bad_input_is_one_line(audit_dataset: Path, tmp_path: Path, args: list[str], message: str) -> None:
    extra = [] if "fitzpatrick" in args else ["--train", "2", "--val", "1"]
    res = run_cli("gap", "--data", str(audit_dataset), "--out", str(tmp_path / "o"), *args, *extra)
    assert res.returncode == 2, res.stdout + res.stderr
    lines = [
        line for line in res.stderr.splitlines() if line.strip() and "rendering" not in line and "trainings" not in line
    ]
    assert "Traceback" not in res.stderr
    assert any(message in line for line in lines), res.stderr


@pytest.mark.slow
def test_plugins_lists_builtins() -> None:
    out = run_cli("plugins").stdout
    for name in ("none", "histeq", "lenet5", "synthetic"):
        assert name in out


@pytest.mark.slow
def test_schema_prints_and_checks_model_cards_and_dataset_json(tiny_dataset: Path, tmp_path: Path) -> None:
    import json

    card = json.loads(run_cli("schema", "model-card").stdout)
    assert card["required"] == ["aus"] and "input_size" in card["properties"]
    assert "format_version" in json.loads(run_cli("schema", "dataset").stdout)["required"]
    ok = run_cli("schema", "dataset", "--check", str(tiny_dataset / "dataset.json"))
    assert ok.returncode == 0 and "a valid dataset" in ok.stdout
    path = tmp_path / "model.json"
    path.write_text('{"aus": [1, 2], "scale": "percent"}')
    bad = run_cli("schema", "model-card", "--check", str(path))
    assert bad.returncode == 2 and "model.json: scale: must be one of unit, byte, standard" in one_line(bad)
    path.write_text('{"aus": [1, 2], "input_size": 112}')
    assert "a valid model-card" in run_cli("schema", "model-card", "--check", str(path)).stdout
    assert "unknown name 'card'" in one_line(run_cli("schema", "card"))


@pytest.mark.slow
def test_describe_prints_paper_totals() -> None:
    out = run_cli("describe", "deepfn", "--preset", "paper").stdout
    assert "119,988,224" in out and "6,269,601" in out and "132,527,426" in out
    assert "388,564" in run_cli("describe", "lenet5").stdout
    # without --preset: the model `deepfn` trains on this machine (lite without a GPU)
    import torch

    default = run_cli("describe", "deepfn").stdout
    assert (
        ("input 128, 128" in default)
        if torch.cuda.is_available()
        else ("lite" in default and "input 64, 64" in default)
    )
    bad = run_cli("describe", "resnet")
    assert bad.returncode == 2 and "unknown model" in bad.stderr


@pytest.mark.slow
def test_normalize_histeq_with_preview(tiny_dataset: Path, tmp_path: Path) -> None:
    png = tmp_path / "prev.png"
    res = run_cli(
        "normalize", str(tiny_dataset), "--normalizer", "histeq", "--out", str(tmp_path / "n"), "--preview", str(png)
    )
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "n" / "faces.npy").exists() and png.read_bytes()[:4] == b"\x89PNG"
    again = run_cli("normalize", str(tiny_dataset), "--normalizer", "histeq", "--out", str(tmp_path / "n"))
    assert again.returncode == 2 and "already exists" in again.stderr
    # settings of any normalizer, as for `gap`; one it does not take is a one-line error before any work
    bad = run_cli("normalize", str(tiny_dataset), "--normalizer", "histeq", "--out", str(tmp_path / "m"),
              "--normalizer-option", "histeq.tiles=8")
    assert bad.returncode == 2 and "histeq has no setting 'tiles' (valid: none)" in one_line(bad)
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_normalize_deepfn_recenter_switch(tiny_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path / "cache"))
    faces = {}
    for flag in ("--no-recenter", "--recenter", "--no-person-norm"):
        out = tmp_path / flag.strip("-")
        res = run_cli("normalize", str(tiny_dataset), "--normalizer", "deepfn", "--iterations", "3", "--no-center",
                  "--gradient-weight", "0", *(["--recenter"] if flag == "--no-person-norm" else []), flag,
                  "--out", str(out))
        assert res.returncode == 0, res.stderr
        faces[flag] = np.load(out / "faces.npy")
    assert not np.array_equal(faces["--recenter"], faces["--no-recenter"])
    assert not np.array_equal(faces["--recenter"], faces["--no-person-norm"])  # person statistics on by default
    assert len(list((tmp_path / "cache" / "deepfn").glob("*.pt"))) == 1  # one training, used both ways
    # the default trains centered: its decoder only knows centered codes
    res = run_cli("normalize", str(tiny_dataset), "--normalizer", "deepfn", "--iterations", "3", "--no-recenter",
              "--out", str(tmp_path / "bad"))
    assert one_line(res).startswith("error: deepfn: a model trained centered") and not (tmp_path / "bad").exists()




@pytest.mark.slow
def test_synth_layout_ingest_merge(tmp_path: Path) -> None:
    trees = {}
    for layout in ("bp4d", "disfa"):
        tree = tmp_path / layout.upper()
        res = run_cli("synth", "--layout", layout, "--out", str(tree), "--subjects", "2", "--frames-per-subject", "6")
        assert res.returncode == 0, res.stderr
        out = tmp_path / f"{layout}-data"
        res = run_cli("ingest", layout, str(tree), "--demographics", str(tree / "demographics.csv"), "--out", str(out))
        assert res.returncode == 0, res.stderr
        assert "labelled frames kept" in res.stdout
        trees[layout] = out
    res = run_cli("merge", str(trees["bp4d"]), str(trees["disfa"]), "--out", str(tmp_path / "both"))
    assert res.returncode == 0, res.stderr
    assert "4 subjects" in res.stdout


@pytest.mark.slow
def test_ingest_errors_are_one_line(bp4d_tree: Path, tmp_path: Path) -> None:
    victim = sorted((bp4d_tree / "AUCoding" / "AU_OCC").glob("*.csv"))[0]
    victim.unlink()
    line = one_line(run_cli("ingest", "bp4d", str(bp4d_tree), "--demographics", str(bp4d_tree / "demographics.csv"),
                         "--out", str(tmp_path / "o")))
    assert victim.name in line and "missing label file" in line
    line = one_line(run_cli("ingest", "bp4d", str(bp4d_tree), "--out", str(tmp_path / "o")))
    assert "--demographics" in line
    line = one_line(run_cli("ingest", "ck+", str(bp4d_tree), "--out", str(tmp_path / "o")))
    assert "unknown source" in line


@pytest.mark.slow
def test_a_corrupt_image_stops_a_parallel_ingest_in_one_line(bp4d_tree: Path, tmp_path: Path) -> None:
    """The error names the image; the other workers' cancelled units add no joblib warning."""
    occ = sorted((bp4d_tree / "AUCoding" / "AU_OCC").glob("*.csv"))[0]
    subject, task = occ.stem.split("_")
    bad = bp4d_tree / "Sequences" / subject / task / "0004.jpg"
    whole = bad.read_bytes()
    bad.write_bytes(whole[: len(whole) // 2])
    for _ in range(2):
        res = run_cli("ingest", "bp4d", str(bp4d_tree), "--demographics", str(bp4d_tree / "demographics.csv"), "--out",
                  str(tmp_path / "o"), "--jobs", "2")
        assert res.returncode == 2 and "Traceback" not in res.stderr
        # progress lines aside, the error is the only thing said
        said = [line for line in res.stderr.splitlines() if line.strip() and not line.startswith("ingesting ")]
        assert len(said) == 1 and "0004.jpg: unreadable image" in said[0], res.stderr


def test_plain_progress_prints_throttled_lines_with_eta(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from auditkit.cli import base as cli

    clock = iter([0.0, 1.0, 40.0, 41.0, 50.0, 60.0])
    monkeypatch.setattr(cli.time, "monotonic", lambda: next(clock))
    report = cli._PlainProgress(every=30.0)
    report("trainings", 0, 10)  # t=0: a new stage prints at once
    report("trainings", 1, 10)  # t=1: throttled
    report("trainings", 4, 10)  # t=40: 30 s passed -> printed, 4 done in 40 s -> 60 s left
    report("trainings", 5, 10)  # t=41: throttled
    report("trainings", 10, 10)  # t=50: finished -> always printed
    report("normalizing faces (deepfn)", 0, None)  # t=60: new stage, unknown total
    lines = capsys.readouterr().err.splitlines()
    assert lines == ["trainings: 0/10, 0:00 elapsed", "trainings: 4/10, 0:40 elapsed, about 1:00 left",
                     "trainings: 10/10, 0:50 elapsed", "normalizing faces (deepfn): 0/?, 0:00 elapsed"]



def test_names_accepts_repeated_options_and_comma_lists() -> None:
    from auditkit.cli import _names

    assert _names(["histeq,none", "deepfn", " oracle , histeq", ""]) == ("histeq", "none", "deepfn", "oracle")


@pytest.mark.slow
def test_rich_markup_in_user_strings_prints_as_written(audit_dataset: Path, tmp_path: Path) -> None:
    import shutil

    import pandas as pd

    data = Path(shutil.copytree(audit_dataset, tmp_path / "data"))
    subjects = pd.read_parquet(data / "subjects.parquet")
    first = sorted(subjects["gender"].unique())[0]
    subjects["team"] = ["[/]" if g == first else "[bold]m" for g in subjects["gender"]]
    subjects.to_parquet(data / "subjects.parquet", index=False)
    res = run_cli("gap", "--attr", "team", "--data", str(data), "--out", str(tmp_path / "a"), "--preset", "smoke",
              "--repeats", "1", "--train", "2", "--val", "1", "--jobs", "1")
    assert res.returncode == 0, res.stderr
    assert "[/]" in res.stdout and "[bold]m" in res.stdout and "Traceback" not in res.stderr
    # an error message carrying such a string: one line, printed as written
    bad = run_cli("gap", "--attr", "[red]x[/]", "--data", str(data), "--out", str(tmp_path / "b"))
    assert "[red]x[/]" in one_line(bad)


@pytest.mark.slow
def test_unwritable_out_and_full_disk_are_one_line_errors(audit_dataset: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    res = run_cli(
        "gap", "--attr", "gender", "--data", str(audit_dataset), "--out", str(blocker / "audit"), "--preset", "smoke"
    )
    assert str(blocker) in one_line(res)

    # a full disk while the report is written: one line naming the file, and no torn report left behind
    from auditkit.cli import base as cli
    from auditkit.report import render

    audit = tmp_path / "audit"
    ok = run_cli("gap", "--attr", "gender", "--data", str(audit_dataset), "--out", str(audit), "--preset", "smoke",
             "--repeats", "1", "--train", "2", "--val", "1", "--jobs", "1")
    assert ok.returncode == 0, ok.stderr
    (audit / "report.html").unlink()

    def full_disk(text: str, path: Path) -> None:
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(render, "write_text_atomic", full_disk)
    monkeypatch.setattr(sys, "argv", ["auditkit", "report", str(audit)])
    with pytest.raises(SystemExit) as info:
        cli.main()
    assert info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "summary.json: No space left on device" in err[0]
    assert not (audit / "report.html").exists()


def test_disparities_print_flags_and_small_group_warning(capsys) -> None:
    import pandas as pd

    from auditkit.cli import print_disparities
    from auditkit.report.tables import audit_tables

    rows = [{"normalizer": "none", "condition": "test-only", "train_group": "pretrained", "test_group": group,
             "repetition": 0, "subject": f"{group}{i}", "au": "AU12", "f1": value + 0.01 * i,
             "accuracy": value + 0.02 * i, "support": 50, "positives": 10}
            for group, n, value in (("darker", 3, 0.3), ("lighter", 6, 0.6)) for i in range(n)]
    print_disparities(audit_tables(pd.DataFrame(rows)))
    out = capsys.readouterr().out
    assert "darker!~" in out  # ratio 0.5 to the best group, and 3 subjects
    assert "outside [0.8, 1.25]" in out and "warning: darker: fewer than 5 test subjects" in out


@pytest.mark.slow
def test_normalize_reports_the_transfer_error_on_synthetic_data(tiny_dataset: Path, dataset_copy: Path,
                                                               tmp_path: Path) -> None:
    res = run_cli("normalize", str(tiny_dataset), "--normalizer", "histeq", "--quality", "--out", str(tmp_path / "h"))
    assert res.returncode == 0, res.stderr
    line = " ".join(res.stdout.split())
    assert "transfer error" in line and "5 subjects" in line
    # histeq outputs the equalized originals: the two errors are the same number
    assert line.split("histeq ")[1].split(" ")[0] == line.split("originals ")[1].split(" ")[0].rstrip(".")
    shutil.rmtree(dataset_copy / "synthetic")  # now like an ingested dataset: no ideal face to compare with
    bad = run_cli("normalize", str(dataset_copy), "--normalizer", "histeq", "--quality", "--out", str(tmp_path / "x"))
    assert "synthetic" in one_line(bad) and not (tmp_path / "x").exists()


@pytest.mark.slow
def test_every_help_text_keeps_its_brackets() -> None:
    import re

    import typer.main

    from auditkit.cli import app

    source = "".join(
        p.read_text() for p in Path(__file__).resolve().parents[1].joinpath("auditkit", "cli").glob("*.py")
    )
    extras = set(re.findall(r"auditkit\[\w+\]", source))
    assert extras >= {"auditkit[cluster]", "auditkit[dlib]"}
    group = typer.main.get_command(app)
    shown = ""
    for name in group.commands:
        res = subprocess.run([sys.executable, "-m", "auditkit", name, "--help"], capture_output=True, text=True,
                             timeout=120, env={**os.environ, "COLUMNS": "400"})
        assert res.returncode == 0, (name, res.stderr)
        shown += res.stdout
    for extra in extras:  # rich markup once swallowed "[cluster]", leaving "Needs auditkit."
        assert extra in shown, extra
    assert "Needs auditkit." not in shown and "needs auditkit)" not in shown


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["gap", "--attr", "gender", "--repeats", "abc"],
            "error: --repeats: expected a whole number, got 'abc' (see `auditkit gap --help`)",
        ),
        (
            ["gap", "--attr", "gender", "--seed=x1"],
            "error: --seed: expected a whole number, got 'x1' (see `auditkit gap --help`)",
        ),
        (["gap"], "error: Missing option '--attr'. (see `auditkit gap --help`)"),
        (["gapp"], "error: No such command 'gapp'. Did you mean 'gap'? (see `auditkit --help`)"),
    ],
)
@pytest.mark.slow
def test_command_line_mistakes_are_one_line_naming_the_value(args: list[str], line: str, tmp_path: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "auditkit", *args], capture_output=True, text=True, cwd=tmp_path,
                         env={**os.environ, "NO_COLOR": "1", "COLUMNS": "200"})
    assert res.returncode == 2 and res.stderr.strip() == line and not list(tmp_path.iterdir())


def test_a_write_error_without_a_file_name_is_given_the_file(tmp_path: Path) -> None:
    from auditkit.files import atomic_path

    target = tmp_path / "faces.npy"
    with pytest.raises(OSError) as info, atomic_path(target):
        raise OSError("9830400 requested and 196480 written")  # numpy's report of a full disk names no file
    assert info.value.filename == str(target) and info.value.errno == errno.ENOSPC
    assert info.value.strerror == "no space left on device (or over quota): only 196480 of 9830400 bytes written"
    with pytest.raises(OSError) as info, atomic_path(target):
        raise OSError("something else")  # any other nameless error keeps its words and gets the file
    assert info.value.filename == str(target) and info.value.args[0] == "something else"
