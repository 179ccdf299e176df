"""The notebook API: auditkit.gap returns tidy tables and writes the report on request."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import auditkit
from auditkit.errors import AuditkitError
from tests.helpers import run_cli, torchscript_model, write_generic


@pytest.mark.slow
def test_gap_from_python_returns_tidy_tables(audit_dataset: Path, tmp_path: Path) -> None:
    result = auditkit.gap(audit_dataset, attr="gender", normalizers=["histeq"], preset="smoke", repeats=1,
                          n_train=2, n_val=1, jobs=1, out=tmp_path / "a")
    assert set(result.conditions["normalizer"]) == {"none", "histeq"}
    assert {"normalizer", "test_group", "gap", "p", "p_repetitions"} <= set(result.gaps.columns)
    assert set(result.gaps["test_group"]) >= {"all"} and result.ceiling.empty  # no oracle: no ceiling
    assert set(result.scores["condition"]) == {"within", "cross"}
    overall = result.disparities[result.disparities["au"] == "all"]
    assert set(overall["test_group"]) == {"female", "male"} and set(overall["normalizer"]) == {"none", "histeq"}
    # one repetition: no interval that would leave training variation out
    assert (overall["ratio_to_best"] <= 1).all() and overall["score_ci_low"].isna().all()
    assert set(result.disparity_summary["normalizer"]) == {"none", "histeq"}
    assert set(result.disparity_changes["normalizer"]) == {"histeq"}
    # one repetition leaves training variation unmeasured: no p-value rather than a people-only one
    assert result.disparity_summary["p"].isna().all() and result.disparity_summary["difference"].notna().all()
    html = result.to_html()
    assert html.name == "report.html" and html.exists()
    assert result.tables is not None and not result.include_faces  # to_html reused the tables computed here
    # --include-faces has its keyword: the report then shows individual faces
    faces = auditkit.gap(audit_dataset, attr="gender", normalizers=["histeq"], preset="smoke", repeats=1, n_train=2,
                         n_val=1, jobs=1, out=tmp_path / "a", include_faces=True)
    assert faces.include_faces and "fig-examples" in faces.to_html(tmp_path / "faces.html").read_text()
    assert "fig-examples" not in result.to_html(tmp_path / "plain.html").read_text()


def test_the_api_reads_the_cluster_from_the_environment_like_the_cli(audit_dataset: Path, tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """$AUDITKIT_CLUSTER reaches auditkit.gap and auditkit.audit_model as it reaches --cluster's default."""
    pytest.importorskip("distributed")
    monkeypatch.setenv("AUDITKIT_CLUSTER", "tcp://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AUDITKIT_CLUSTER_TIMEOUT", "1")
    with pytest.raises(AuditkitError, match="127.0.0.1:9"):
        auditkit.gap(audit_dataset, attr="gender", preset="smoke", repeats=1, n_train=2, n_val=1,
                     out=tmp_path / "a")


def test_gap_from_python_validates_like_the_cli(audit_dataset: Path) -> None:
    from auditkit.api import _audit_config

    with pytest.raises(TypeError, match="n_trian"):  # explicit keywords: a misspelt one is Python's own error
        auditkit.gap(audit_dataset, attr="gender", n_trian=2)
    # "gender,fitzpatrick" is an intersection of two attributes, as --attr reads it, not one column of that name
    cfg = _audit_config(audit_dataset, "gender, fitzpatrick", ["none"], "smoke", None)
    assert cfg.attr == ("gender", "fitzpatrick")
    assert _audit_config(audit_dataset, ["gender,fitzpatrick"], ["none"], "smoke", None).attr == cfg.attr
    # one reader of names for both sides: a list whose items may be comma lists, as a repeated option gives them
    assert _audit_config(audit_dataset, "gender", ["histeq,none", "histeq"], "smoke", None).normalizers == \
        ("none", "histeq")
    from auditkit.cli.base import _attrs as cli_attrs
    from auditkit.cli.base import _names as cli_names

    assert cli_names(["histeq,none", " deepfn "]) == auditkit.api.split_names(["histeq,none", " deepfn "])
    with pytest.raises(AuditkitError, match=r"attr \(--attr\): give an attribute"):
        cli_attrs(" , ")
    with pytest.raises(AuditkitError, match=r"attr \(--attr\): give an attribute"):
        auditkit.gap(audit_dataset, attr=" , ")
    with pytest.raises(AuditkitError, match=r"^normalizer_options: deepfn has no setting 'iters' \(valid: mode"):
        auditkit.gap(audit_dataset, attr="gender", normalizers=["deepfn"], normalizer_options={"deepfn": {"iters": 3}})
    # typed values are kept, text is converted as the command line's is: one check for both
    cfg = _audit_config(audit_dataset, "gender", ["deepfn"], "smoke",
                        {"deepfn": {"iterations": "40", "recenter": False, "mode": "amortized"}})
    assert cfg.normalizer_options == {"deepfn": {"iterations": 40, "recenter": False, "mode": "amortized"}}
    with pytest.raises(AuditkitError, match=r"^normalizer_options: deepfn.iterations takes a whole number, got 'x'"):
        _audit_config(audit_dataset, "gender", ["deepfn"], "smoke", {"deepfn": {"iterations": "x"}})
    with pytest.raises(AuditkitError, match=r"^normalizer_options: 'oracle' is not one of this run's normalizers"):
        _audit_config(audit_dataset, "gender", ["deepfn"], "smoke", {"oracle": {}})


@pytest.mark.slow
def test_predictions_and_model_audits_from_python(audit_dataset: Path, tmp_path: Path) -> None:
    from auditkit.data import load_dataset

    preds = write_generic(load_dataset(audit_dataset), tmp_path / "preds.parquet", {"female": 0.05, "male": 0.3})
    result = auditkit.audit_predictions(preds, audit_dataset, attr="gender", out=tmp_path / "p")
    assert set(result.conditions["test_group"]) == {"female", "male"} and result.gaps.empty  # no within/cross here
    overall = result.disparities[result.disparities["au"] == "all"].set_index("test_group")
    assert overall.loc["female", "score"] > overall.loc["male", "score"]  # the noisier group scores lower
    assert set(result.missed_frames["group"]) == {"female", "male"} and result.run["counts"]["matched_frames"] > 0
    assert result.to_html().exists()
    with pytest.raises(AuditkitError, match="--faces: unknown choice .all."):  # the one message, as the CLI prints it
        auditkit.audit_predictions(preds, audit_dataset, attr="gender", faces="all")
    # keywords mirror the CLI's options: format as --format
    again = auditkit.audit_predictions(preds, audit_dataset, attr="gender", out=tmp_path / "p2", format="generic")
    pd.testing.assert_frame_equal(again.results, result.results)
    # a failed call into a temporary directory leaves none behind
    import tempfile

    before = set(Path(tempfile.gettempdir()).glob("auditkit-*"))
    with pytest.raises(AuditkitError):
        auditkit.audit_predictions(preds, audit_dataset, attr="gender", format="openface")
    assert set(Path(tempfile.gettempdir()).glob("auditkit-*")) == before
    model = auditkit.audit_model(torchscript_model(tmp_path), audit_dataset, attr="gender", normalizers=["histeq"],
                                 source="bp4d-synth", out=tmp_path / "m")
    assert set(model.conditions["normalizer"]) == {"none", "histeq"} and model.missed_frames.empty
    assert set(model.disparity_summary["normalizer"]) == {"none", "histeq"}
    with pytest.raises(AuditkitError, match="no setting 'strength'"):
        auditkit.audit_model(torchscript_model(tmp_path), audit_dataset, attr="gender", normalizers=["histeq"],
                             normalizer_options={"histeq": {"strength": 2}})


@pytest.mark.slow
def test_normalize_from_python_matches_the_cli(tiny_dataset: Path, tmp_path: Path) -> None:
    import numpy as np

    from auditkit.data import load_dataset

    result = auditkit.normalize(tiny_dataset, tmp_path / "api", normalizer="histeq", preview=tmp_path / "p.png",
                                quality=True)
    assert result.out == tmp_path / "api" and result.preview.read_bytes()[:4] == b"\x89PNG"
    assert len(result.transfer_error) == load_dataset(tiny_dataset).subjects.shape[0] - 1  # the template aside
    done = run_cli("normalize", str(tiny_dataset), "--normalizer", "histeq", "--out", str(tmp_path / "cli"))
    assert done.returncode == 0, done.stderr
    assert np.array_equal(
        np.asarray(load_dataset(tmp_path / "api").faces), np.asarray(load_dataset(tmp_path / "cli").faces)
    )
    with pytest.raises(AuditkitError, match="already exists"):
        auditkit.normalize(tiny_dataset, tmp_path / "api", normalizer="histeq")
    with pytest.raises(AuditkitError, match="unknown setting 'tiles'"):
        auditkit.normalize(tiny_dataset, tmp_path / "x", normalizer="histeq", options={"tiles": 8})


def test_public_functions_take_explicit_keywords() -> None:
    import inspect

    for fn in (auditkit.gap, auditkit.audit_model, auditkit.audit_predictions, auditkit.normalize, auditkit.compare):
        params = inspect.signature(fn).parameters.values()
        assert not [p for p in params if p.kind is p.VAR_KEYWORD], fn.__name__
        assert "Parameters\n    ----------" in (fn.__doc__ or ""), f"{fn.__name__}: numpydoc parameters"


def test_the_other_commands_have_python_equivalents(tiny_dataset: Path, dataset_copy: Path, audit_dataset: Path,
                                                    tmp_path: Path) -> None:
    seen = auditkit.inspect(tiny_dataset)
    assert seen.problems == [] and seen.subjects["subjects"].sum() == 6 and set(seen.splits["attr"]) >= {"gender"}
    (dataset_copy / "frames.parquet").write_bytes(b"not parquet")
    broken = auditkit.inspect(dataset_copy)
    assert broken.problems and "frames.parquet" in str(broken.problems[0]) and broken.subjects.empty
    planned = auditkit.plan(audit_dataset, attr="gender", normalizers=["deepfn"], repeats=2)
    cost = planned.costs
    assert list(cost["what"]) == ["LeNet-5 trainings", "DeepFN fits"] and (cost["cpu_core_hours"] > 0).all()
    assert planned.cpu_core_hours == pytest.approx(cost["cpu_core_hours"].sum()) and planned.precision is None
    assert 0 < planned.subjects_in_scope < planned.subjects and planned.early_stopping and planned.frames_in_scope > 0
    pilot = _pilot(tmp_path / "pilot")  # `auditkit plan --pilot`: the precision rows in the same call
    with_pilot = auditkit.plan(audit_dataset, attr="gender", repeats=2, pilot=pilot, half_width=8.0)
    pd.testing.assert_frame_equal(with_pilot.precision, auditkit.precision(pilot, half_width=8.0))
    assert auditkit.merge_datasets.__module__ == "auditkit.data.merge"  # tested in tests/test_data_merge.py
    assert auditkit.describe_model("lenet5").total > 0
    assert auditkit.available_plugins()["normalizer"]["histeq"] == "auditkit.normalizers.histeq:HistEqNormalizer"


def test_ingest_from_python(bp4d_tree: Path, tmp_path: Path) -> None:
    stats = auditkit.ingest("bp4d", bp4d_tree, tmp_path / "out", demographics=bp4d_tree / "demographics.csv", jobs=1)
    assert stats["frames_kept"] > 0 and auditkit.inspect(tmp_path / "out").problems == []
    assert stats["missing_demographics"] == [] and stats["unused_demographics"] == []  # what the CLI warns about
    seen = auditkit.inspect(tmp_path / "out")
    assert seen.fingerprint and seen.frames == stats["frames_kept"] and seen.image_size == (128, 128)
    with pytest.raises(AuditkitError, match="unknown source 'nope'"):
        auditkit.ingest("nope", bp4d_tree, tmp_path / "x")


def _pilot(out: Path, reps: int = 6) -> Path:
    """A finished-looking gap audit (results.parquet, run.json) whose models differ from repetition to repetition."""
    import json

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(3)
    pools = {"dark": [f"D{i}" for i in range(9)], "light": [f"L{i}" for i in range(9)]}
    level = {s: rng.normal(0.55, 0.04) for members in pools.values() for s in members}
    rows = []
    for rep in range(reps):
        for train in pools:
            quality = rng.normal(0, 0.04)
            for test, members in pools.items():
                for s in members:
                    for au in ("AU06", "AU12"):
                        v = float(np.clip(level[s] + quality + (0.05 if train == test else 0) + rng.normal(0, 0.03),
                                          0, 1))
                        rows.append({"normalizer": "none", "repetition": rep, "task": f"{train}-r{rep}",
                                     "condition": "within" if train == test else "cross", "train_group": train,
                                     "test_group": test, "subject": s, "au": au, "f1": v, "accuracy": v,
                                     "support": 30, "positives": 6})
    out.mkdir(parents=True)
    pd.DataFrame(rows).to_parquet(out / "results.parquet", index=False)
    (out / "run.json").write_text(json.dumps({"config": {"attr": ["skin"], "normalizers": ["none"]}}))
    return out


def test_precision_plans_repetitions_from_a_pilot(tmp_path: Path) -> None:
    pilot = _pilot(tmp_path / "pilot")
    wide = auditkit.precision(pilot, half_width=8.0).set_index("quantity")
    narrow = auditkit.precision(pilot, half_width=3.0).set_index("quantity")
    assert {"gap (overall)", "gap (tested on dark)", "dark vs light difference"} <= set(wide.index)
    assert (wide["repetitions"] == 6).all() and (wide["half_width"] > 0).all()
    row = "gap (overall)"
    assert wide.loc[row, "repetitions_needed"] < narrow.loc[row, "repetitions_needed"] or \
        narrow["repetitions_needed"].isna()[row]  # narrower needs more repetitions, or more people
    with pytest.raises(AuditkitError, match="half-width"):
        auditkit.precision(pilot, half_width=0)


# CLI option -> API keyword where the names differ by convention (a repeatable option is one value per use; the
# keyword takes the list); the units are the same
RENAMED = {"normalizer": "normalizers", "normalizer_option": "normalizer_options", "f1_no_positives": "f1_rule",
           "name": "names", "fmt": "format"}
# what one side has and the other cannot: `normalize`'s DeepFN shorthands are keys of `options`; `plan`'s cores
# only say the wall time on that many cores; progress callbacks are Python's
ONLY_CLI = {"normalize": {"center", "gradient_weight", "iterations", "mode", "person_norm", "preset", "recenter",
                          "normalizer_option"},
            "plan": {"cores"}}
ONLY_API = {"normalize": {"options", "progress"}, "gap": {"progress"},
            "audit-model": {"progress"}}


@pytest.mark.parametrize("command", ["gap", "audit-model", "audit-predictions", "compare", "normalize", "plan"])
def test_every_cli_option_has_its_api_keyword_and_back(command: str) -> None:
    """One pipeline: each command's options and its auditkit function's keywords name the same settings."""
    import inspect

    from typer.main import get_command

    from auditkit.cli import app

    function = getattr(auditkit, command.replace("-", "_"))
    keywords = set(inspect.signature(function).parameters) - ONLY_API.get(command, set())
    names = {p.name for p in get_command(app).commands[command].params} - ONLY_CLI.get(command, set())
    options = {n if n in keywords else RENAMED.get(n, n) for n in names}
    assert options == keywords, (
        f"{command}: CLI only {sorted(options - keywords)}, API only {sorted(keywords - options)}"
    )
