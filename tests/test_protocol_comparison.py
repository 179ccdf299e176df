"""`auditkit compare`: loading audits, pairing on shared subjects and AUs, refusals, the CLI, the report."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import auditkit
from auditkit.data import load_dataset
from auditkit.errors import AuditkitError
from auditkit.protocol.comparison import build_comparison, load_models, parse_names
from auditkit.protocol.predictions_audit import audit_predictions
from tests.helpers import AUS12, write_generic, write_openface


def _predictions_audit(data: Path, out: Path, noise: dict[str, float], skip: tuple[str, ...] = (),
                       aus: list[str] = AUS12) -> Path:
    """A finished audit-predictions audit by gender, from a generic predictions file with noise per gender."""
    ds = load_dataset(data)
    path = write_generic(ds, out.parent / f"{out.name}.parquet", noise)
    table = pd.read_parquet(path)
    table = table[~table["subject"].isin(skip)][["subject", "sequence", "frame", *aus]]
    table.to_parquet(path, index=False)
    audit_predictions(path, data, ("gender",), out)
    return out


@pytest.fixture(scope="module")
def audits(audit_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("compare")
    ds = load_dataset(audit_dataset)
    made = {"fair": _predictions_audit(audit_dataset, root / "fair", {"female": 0.1, "male": 0.1}),
            "unfair": _predictions_audit(audit_dataset, root / "unfair", {"female": 0.1, "male": 0.3},
                                         skip=(ds.subjects["subject"].iloc[0],), aus=AUS12[:-1]),
            "third": _predictions_audit(audit_dataset, root / "third", {"female": 0.15, "male": 0.15})}
    write_openface(ds, root / "openface-files")
    made["openface"] = root / "openface"
    audit_predictions(root / "openface-files", audit_dataset, ("gender",), made["openface"])
    return made


def test_models_are_paired_on_shared_subjects_and_aus(audits: dict[str, Path]) -> None:
    entries = load_models([audits["fair"], audits["unfair"], audits["third"]])
    assert [e.label for e in entries] == ["fair", "unfair", "third"] and all(e.kind == "test-only" for e in entries)
    comparison = build_comparison(entries)
    counts = {c["model"]: c for c in comparison.counts}
    assert counts["fair"]["subjects"] == counts["unfair"]["subjects"] + 1  # the unfair tool never ran on one person
    assert counts["fair"]["shared_subjects"] == counts["unfair"]["subjects"]
    assert counts["fair"]["aus_left_out"] == [AUS12[-1]] and counts["unfair"]["aus_left_out"] == []
    assert comparison.aus == sorted(AUS12[:-1])
    assert comparison.subjects.groupby("model")["subject"].nunique().nunique() == 1
    pairs = comparison.tables.pairs.set_index(["model_a", "model_b", "quantity"])
    # noisier predictions for men: the unfair tool's female - male difference is larger than the fair one's
    change = pairs.loc[("fair", "unfair", "disparity")]
    assert change["value_b"] > change["value_a"] + 0.05 and change["p"] < 0.05
    assert pairs.loc[("fair", "unfair", "overall"), "difference"] > 0
    missed = comparison.missed
    assert set(missed["model"]) == {"fair", "unfair", "third"} and (missed["missed"] == 0).all()


def test_openface_layout_and_a_gap_audit_take_part(audits: dict[str, Path], audit_dataset: Path,
                                                   tmp_path: Path) -> None:
    from auditkit.protocol.config import AuditConfig
    from auditkit.protocol.runner import run_audit

    gap_dir = tmp_path / "gap"
    run_audit(
        AuditConfig.from_preset(
            "smoke", data=str(audit_dataset), attr=("gender",), normalizers=("none", "histeq"), repeats=1,
            n_train=2, n_val=1,
        ),
        gap_dir,
        jobs=1,
    )
    entries = load_models([audits["openface"], gap_dir], {gap_dir.resolve(): "lenet"})
    assert [e.label for e in entries] == ["openface", "lenet (none)", "lenet (histeq)"]
    assert all((e.results["condition"] == "cross").all() for e in entries[1:])
    comparison = build_comparison(entries)
    counts = {c["model"]: c for c in comparison.counts}
    # the gap audit tests only the subjects its draws left for testing; the comparison keeps those
    assert counts["openface"]["subjects"] > counts["lenet (none)"]["shared_subjects"]
    assert len(comparison.tables.pairs) == 6  # 3 model pairs x (overall, female vs male)
    # mixing with a normalizer that saw the faces: the missed frames exist for the tool only
    assert set(comparison.missed["model"]) == {"openface"}


def test_refusals_are_one_line_and_write_nothing(audits: dict[str, Path], audit_dataset: Path,
                                                 tmp_path: Path) -> None:
    with pytest.raises(AuditkitError, match="at least two audit directories"):
        load_models([audits["fair"]])
    with pytest.raises(AuditkitError, match="given twice"):
        load_models([audits["fair"], audits["fair"]])
    with pytest.raises(AuditkitError, match="not an audit directory"):
        load_models([audits["fair"], tmp_path])
    with pytest.raises(AuditkitError, match="not a directory"):
        load_models([audits["fair"], tmp_path / "nope"])
    cut = Path(shutil.copytree(audits["third"], tmp_path / "cut"))
    (cut / "results.parquet").unlink()
    with pytest.raises(AuditkitError, match="unfinished audit .no results.parquet"):
        load_models([audits["fair"], cut])
    other = tmp_path / "by-dataset"
    path = write_generic(load_dataset(audit_dataset), tmp_path / "p.parquet", {"female": 0.1, "male": 0.1})
    audit_predictions(path, audit_dataset, ("dataset",), other)
    with pytest.raises(AuditkitError, match=r"different attribute \(\['dataset'\] vs \['gender'\]\)"):
        load_models([audits["fair"], other])
    run = json.loads((cut.parent / "cut" / "run.json").read_text())
    renamed = Path(shutil.copytree(audits["third"], tmp_path / "x" / "fair"))
    with pytest.raises(AuditkitError, match="two models are labelled 'fair'"):
        load_models([audits["fair"], renamed])
    assert [e.label for e in load_models([audits["fair"], renamed], parse_names([f"{renamed}=copy"], [renamed]))] \
        == ["fair", "copy"]
    moved = Path(shutil.copytree(audits["third"], tmp_path / "moved"))
    run["fingerprint"] = "0" * 16
    (moved / "run.json").write_text(json.dumps(run))
    with pytest.raises(AuditkitError, match="different dataset"):
        load_models([audits["fair"], moved])
    with pytest.raises(AuditkitError, match="--name: expected DIR=LABEL"):
        parse_names(["fair"], [audits["fair"]])
    with pytest.raises(AuditkitError, match="is not one of the compared audits"):
        parse_names([f"{tmp_path}=x"], [audits["fair"]])


def test_unfinished_gap_audit_is_refused(audit_dataset: Path, audits: dict[str, Path], tmp_path: Path) -> None:
    from auditkit.protocol.config import AuditConfig
    from auditkit.protocol.runner import run_audit

    gap_dir = tmp_path / "gap"
    run_audit(AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), repeats=1, n_train=2,
                                      n_val=1), gap_dir, jobs=1)
    results = pd.read_parquet(gap_dir / "results.parquet")
    results[results["task"] != results["task"].iloc[0]].to_parquet(gap_dir / "results.parquet")
    with pytest.raises(AuditkitError, match=r"unfinished audit \(\d+ of \d+ trainings"):
        load_models([audits["fair"], gap_dir])


def test_a_test_only_audit_missing_a_normalizer_is_unfinished(audits: dict[str, Path], tmp_path: Path) -> None:
    cut = Path(shutil.copytree(audits["third"], tmp_path / "cut"))
    run = json.loads((cut / "run.json").read_text())
    run["config"]["normalizers"] = ["none", "histeq"]  # as audit-model records them; histeq never finished
    (cut / "run.json").write_text(json.dumps(run))
    with pytest.raises(AuditkitError, match="unfinished audit .no results yet for normalizer 'histeq'"):
        load_models([audits["fair"], cut])


def test_api_returns_tables_and_writes_the_three_outputs(audits: dict[str, Path], tmp_path: Path) -> None:
    result = auditkit.compare([audits["fair"], audits["unfair"]], names={audits["unfair"]: "skewed"},
                              out=tmp_path / "cmp")
    assert list(result.models["model"]) == ["fair", "skewed"] and set(result.pairs["quantity"]) == {
        "overall",
        "disparity",
    }
    summary = json.loads((tmp_path / "cmp" / "summary.json").read_text())
    assert "percent" in summary["units"]
    board = {r["model"]: r for r in summary["leaderboard"]}
    assert board["fair"]["score"] == pytest.approx(result.models.set_index("model").loc["fair", "score"])  # one unit
    md = (tmp_path / "cmp" / "summary.md").read_text()
    assert "## Leaderboard" in md and "## Methods and limitations" in md and "fair's gender disparity" in md
    html = (tmp_path / "cmp" / "report.html").read_text()
    assert "Score against disparity" in html and "fig-score_disparity" in html and "Provenance" in html
    assert result.to_html(tmp_path / "again.html").is_file()
    with pytest.raises(AuditkitError, match="is an audit directory"):
        auditkit.compare([audits["fair"], audits["unfair"]], out=audits["third"])


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditkit", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


@pytest.mark.slow
def test_cli_prints_a_leaderboard_at_80_columns_and_refuses_in_one_line(audits: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    env_out = tmp_path / "cmp"
    done = subprocess.run(
        [
            sys.executable, "-m", "auditkit", "compare", str(audits["fair"]), str(audits["unfair"]),
            str(audits["third"]), "--out", str(env_out), "--name", f"{audits['third']}=middle",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "COLUMNS": "80"},
    )
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    assert "middle" in done.stdout and "female - male" not in done.stdout and "female − male" in done.stdout
    assert re.search(r"fair.s gender disparity .*is (\d+\.\d points )?smaller than unfair.s", done.stdout)
    assert (env_out / "report.html").is_file()
    bad = _cli("compare", str(audits["fair"]), "--out", str(tmp_path / "none"), cwd=tmp_path)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "at least two" in bad.stderr
    assert not (tmp_path / "none").exists()
    dup = _cli("compare", str(audits["fair"]), str(audits["unfair"]), "--name", "oops", "--out",
               str(tmp_path / "none"), cwd=tmp_path)
    assert dup.returncode == 2 and "--name: expected DIR=LABEL" in dup.stderr and not (tmp_path / "none").exists()


def test_groups_are_compared_by_the_people_they_hold_not_their_spelling(audit_dataset: Path, tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture) -> None:
    """Explicit --bins 1-2,5-6 make the Fitzpatrick default's groups under other names: compared, under the first's
    names; bins that move people between groups are refused in one line."""
    ds = load_dataset(audit_dataset)
    path = write_generic(ds, tmp_path / "p.parquet", {"female": 0.1, "male": 0.1})
    default = tmp_path / "default"
    audit_predictions(path, audit_dataset, ("fitzpatrick",), default)
    spelled = tmp_path / "spelled"
    audit_predictions(path, audit_dataset, ("fitzpatrick",), spelled, bins="1-2,5-6")
    entries = load_models([default, spelled])
    assert {str(g) for e in entries for g in e.results["test_group"].unique()} == {"lighter", "darker"}
    assert "groups 1-2 = lighter, 5-6 = darker" in capsys.readouterr().err
    comparison = build_comparison(entries)
    assert set(comparison.tables.pairs["comparison"]) >= {"darker vs lighter"}
    # a range that also holds people the other audit left out (type III): compared on the people both grouped
    wider = tmp_path / "wider"
    audit_predictions(path, audit_dataset, ("fitzpatrick",), wider, bins="1-3,5-6")
    entries = load_models([default, wider])
    note = capsys.readouterr().err
    assert (
        "groups 1-3 = lighter, 5-6 = darker" in note and "6 subject(s) grouped by one audit only are left out" in note
    )
    counts = {c["model"]: c for c in build_comparison(entries).counts}
    assert counts["wider"]["subjects"] > counts["wider"]["shared_subjects"] == counts["default"]["subjects"]
    mixed = tmp_path / "mixed"
    audit_predictions(path, audit_dataset, ("fitzpatrick",), mixed, bins="1-1,2-6")
    with pytest.raises(AuditkitError, match=r"its group '1-1' holds other people than any group there"):
        load_models([default, mixed])


@pytest.mark.slow
def test_a_comparison_killed_while_writing_never_looks_finished(audits: dict[str, Path], tmp_path: Path) -> None:
    """The process dies (os._exit, as under kill -9: no cleanup runs) right after report.html is written: the folder
    says it is incomplete and holds no summary.json; running the comparison again finishes it."""
    out = tmp_path / "cmp"
    killer = (
        "import os, sys\n"
        "import auditkit\n"
        "import auditkit.report.comparison_report as rc\n"
        "real = rc.write_text_atomic\n"
        "def dying(text, path):\n"
        "    if path.name == 'summary.md':\n"
        "        os._exit(9)\n"
        "    real(text, path)\n"
        "rc.write_text_atomic = dying\n"
        f"auditkit.compare([{str(audits['fair'])!r}, {str(audits['unfair'])!r}], out={str(out)!r})\n")
    died = subprocess.run([sys.executable, "-c", killer], capture_output=True, text=True, timeout=300)
    assert died.returncode == 9
    assert (out / "report.html").is_file() and not (out / "summary.json").exists()
    assert "stopped while writing" in (out / "INCOMPLETE").read_text()
    auditkit.compare([audits["fair"], audits["unfair"]], out=out)
    assert {p.name for p in out.iterdir()} == {"report.html", "summary.md", "summary.json"}
