"""The runner: results rows, run.json, conditions per attribute, resume after a kill, and config mismatch."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.classifiers import lenet_fused
from auditkit.contract import Classifier
from auditkit.errors import AuditkitError
from auditkit.protocol.audit_dir import AuditDir
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.runner import run_audit
from tests.conftest import kill_mid_run
from tests.helpers import run_cli

SMALL = {"n_train": 2, "n_val": 1}


def _cfg(data: Path, attr: tuple[str, ...], **kw) -> AuditConfig:
    return AuditConfig.from_preset("smoke", data=str(data), attr=attr, **{**SMALL, **kw})


def test_gender_audit_rows_and_run_json(audit_dataset: Path, tmp_path: Path) -> None:
    res = run_audit(_cfg(audit_dataset, ("gender",), normalizers=("histeq",)), tmp_path / "a", jobs=1)
    assert set(res["normalizer"]) == {"none", "histeq"}
    combos = set(zip(res["train_group"], res["test_group"], res["condition"], strict=False))
    assert combos == {("female", "female", "within"), ("female", "male", "cross"), ("male", "male", "within"),
                      ("male", "female", "cross")}
    assert set(res["au"]) == {f"AU{a:02d}" for a in (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23, 24)}
    assert res["repetition"].nunique() == 2
    # F1 lies in [0, 1], or is left out (NaN, the default rule) exactly where the subject shows no positives
    assert ((res["f1"].isna() | res["f1"].between(0, 1)) & (res["support"] > 0)).all()
    assert (res.loc[res["f1"].isna(), "positives"] == 0).all()
    on_disk = pd.read_parquet(tmp_path / "a" / "results.parquet")
    pd.testing.assert_frame_equal(on_disk, res)
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["config"]["attr"] == ["gender"] and run["versions"]["torch"]
    assert run["machine"]["classifier_runtime"] == lenet_fused.describe()  # which LeNet-5 path made these numbers
    assert run["plan"]["template"] not in run["plan"]["scope"]
    assert len(run["plan"]["tasks"]) == 4  # 2 pools x 2 repetitions, each model tested within and cross
    assert json.loads((tmp_path / "a" / "normalizers.json").read_text()) == {"none": {}, "histeq": {}}


def test_dataset_audit_uses_shared_aus(audit_dataset: Path, tmp_path: Path) -> None:
    res = run_audit(_cfg(audit_dataset, ("dataset",), repeats=1), tmp_path / "d", jobs=1)
    assert sorted(res["au"].unique()) == ["AU01", "AU02", "AU04", "AU06", "AU12"]
    assert set(res["test_group"]) == {"bp4d-synth", "disfa-synth"}


def test_person_audit(audit_dataset: Path, tmp_path: Path) -> None:
    res = run_audit(_cfg(audit_dataset, ("person",), repeats=1, person_dependent=2), tmp_path / "p", jobs=1)
    assert set(res["condition"]) == {"within", "cross"}
    assert res.loc[res["condition"] == "within", "subject"].nunique() == 2
    assert set(res["kind"]) == {"person-dependent", "person-independent"}


def test_different_config_is_refused(audit_dataset: Path, tmp_path: Path) -> None:
    run_audit(_cfg(audit_dataset, ("gender",), repeats=1), tmp_path / "x", jobs=1)
    with pytest.raises(AuditkitError, match="different audit"):
        run_audit(_cfg(audit_dataset, ("gender",), repeats=1, seed=9), tmp_path / "x", jobs=1)
    res = run_audit(_cfg(audit_dataset, ("gender",), repeats=1, seed=9), tmp_path / "x", jobs=1, force=True)
    assert (res["seed"] != 0).all()


def test_too_small_pools_are_refused(audit_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(AuditkitError, match=r"pool '.*' has \d+ subjects but the protocol needs at least 7"):
        run_audit(AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("fitzpatrick",)), tmp_path / "s")


def test_pretrained_classifier_is_refused_up_front(audit_dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(AuditkitError, match="classifier .pretrained. is pretrained .* `auditkit audit-model"):
        run_audit(_cfg(audit_dataset, ("gender",), classifier="pretrained"), tmp_path / "p")
    assert not (tmp_path / "p").exists()


def _gap_cmd(data: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "auditkit", "gap", "--attr", "gender", "--data", str(data), "--out", str(out),
            "--preset", "smoke", "--repeats", "3", "--train", "2", "--val", "1", "--jobs", "1"]


@pytest.mark.slow
def test_killed_audit_resumes_to_the_same_results(audit_dataset: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    assert subprocess.run(_gap_cmd(audit_dataset, reference), capture_output=True, timeout=600).returncode == 0

    resumed = tmp_path / "resumed"
    finished = kill_mid_run(_gap_cmd(audit_dataset, resumed), resumed)
    assert 2 <= finished < 6, "the kill should land mid-grid"
    if (resumed / "results.parquet").exists():
        pd.read_parquet(resumed / "results.parquet")  # never a torn file

    torn = AuditDir(resumed).finished_parts()[0]  # a damaged finished part is trained again
    torn.write_bytes(torn.read_bytes()[: torn.stat().st_size // 2])
    done = subprocess.run(_gap_cmd(audit_dataset, resumed), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert f"warning: {torn}: unreadable" in done.stderr and "Traceback" not in done.stderr
    a = pd.read_parquet(reference / "results.parquet").drop(columns="seconds")
    b = pd.read_parquet(resumed / "results.parquet").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b)


class SmallFaceClassifier(Classifier):
    """A classifier plugin that takes 32x32 faces and records what it was given."""

    input_size = 32
    seen: list[tuple[int, ...]] = []

    def __init__(self, seed: int = 0, threads: int | None = None, **options: object) -> None:
        self.seed, self.threads = seed, threads

    def fit(self, X, Y, X_val, Y_val):
        SmallFaceClassifier.seen.append(X.shape[1:])
        self.rate = np.clip(np.where(Y >= 0, Y, 0).mean(0), 0.01, 0.99)
        return self

    def predict_proba(self, X):
        SmallFaceClassifier.seen.append(X.shape[1:])
        return np.tile(self.rate, (len(X), 1))


def test_a_classifier_gets_faces_at_the_size_it_declares(audit_dataset: Path, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from auditkit import plugins

    real = plugins.available

    def with_small(kind: str) -> dict:
        eps = real(kind)
        if kind == "classifier":
            eps["small"] = EntryPoint("small", "tests.test_protocol_runner:SmallFaceClassifier", "auditkit.classifiers")
        return eps

    monkeypatch.setattr(plugins, "available", with_small)
    SmallFaceClassifier.seen.clear()
    cfg = AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), repeats=1, n_train=2, n_val=1,
                                  classifier="small")
    run_audit(cfg, tmp_path / "a", jobs=1)
    assert SmallFaceClassifier.seen and set(SmallFaceClassifier.seen) == {(32, 32)}
    assert [p.name.split("-")[0] for p in (tmp_path / "a" / "cache" / "none").glob("*.npy")] == ["32px"]


class ColourFaceClassifier(SmallFaceClassifier):
    """A plugin for a colour backbone: 32x32 faces on three channels."""

    channels = 3


@pytest.mark.parametrize("channels, expected", [(3, (32, 32, 3)), (2, None)])
def test_a_classifier_gets_the_channels_it_declares(audit_dataset: Path, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch, channels: int,
                                                    expected: tuple | None) -> None:
    from importlib.metadata import EntryPoint

    from auditkit import plugins

    real = plugins.available
    monkeypatch.setattr(ColourFaceClassifier, "channels", channels)
    monkeypatch.setattr(plugins, "available", lambda kind: {**real(kind), **({"colour": EntryPoint(
        "colour", "tests.test_protocol_runner:ColourFaceClassifier", "auditkit.classifiers")} if kind == "classifier"
        else {})})
    SmallFaceClassifier.seen.clear()
    cfg = AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), repeats=1, n_train=2, n_val=1,
                                  classifier="colour")
    if expected is None:
        with pytest.raises(AuditkitError, match=r"classifier plugin 'colour' .*: channels must be 1 or 3, got 2"):
            run_audit(cfg, tmp_path / "a", jobs=1)
        assert not (tmp_path / "a").exists()  # refused before anything is written
        return
    run_audit(cfg, tmp_path / "a", jobs=1)
    assert set(SmallFaceClassifier.seen) == {expected}


@pytest.mark.slow
def test_frames_lost_at_ingest_are_reported_per_group(audit_dataset: Path, tmp_path: Path) -> None:
    import shutil

    from auditkit.data import load_dataset
    from auditkit.data.format import SKIPPED_FILE
    from auditkit.protocol.coverage import ingest_losses

    data = tmp_path / "data"
    shutil.copytree(audit_dataset, data)
    ds = load_dataset(data)
    men = ds.subjects.loc[(ds.subjects["gender"] == "male") & (ds.subjects["dataset"] == "bp4d-synth"), "subject"]
    rows = [{"subject": s, "sequence": "T1", "frame": 1000 + i, "reason": "no_face"} for s in men for i in range(10)]
    rows.append({"subject": men.iloc[0], "sequence": "T1", "frame": 5000, "reason": "unreadable"})  # not a miss
    pd.DataFrame(rows).to_parquet(data / SKIPPED_FILE, index=False)
    out = tmp_path / "audit"
    res = run_cli(
        "gap", "--attr", "gender", "--data", str(data), "--out", str(out), "--preset", "smoke", "--repeats", "1",
        "--train", "2", "--val", "1", "--jobs", "1",
    )
    assert res.returncode == 0, res.stderr
    assert "Labelled frames lost at ingest" in res.stdout
    losses = json.loads((out / "run.json").read_text())["ingest_losses"]
    shares = {g["group"]: g["missed_share"] for g in losses["groups"]}
    assert shares["female"] == 0 and shares["male"] == pytest.approx(10 / 40)  # 30 kept + 10 missed per man
    assert losses["tests"][0]["comparison"] == "female vs male" and losses["tests"][0]["p"] < 0.05
    assert 'id="ingest-losses"' in (out / "report.html").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert {g["group"]: g["missed_share"] for g in summary["ingest_losses"]["groups"]}["male"] == pytest.approx(25.0)
    assert "## Frames lost at ingest (no face found)" in (out / "summary.md").read_text()
    assert ingest_losses(load_dataset(audit_dataset), []) is None  # no skipped-frames file: nothing to report


def test_settings_that_would_train_nothing_or_crash_are_refused_before_any_work(tmp_path: Path) -> None:
    from auditkit.errors import AuditkitError
    from auditkit.protocol.config import AuditConfig
    from auditkit.protocol.runner import run_audit

    for key, value, message in (("epochs", 0, "--epochs (epochs): must be at least 1, got 0"),
                                ("repeats", -1, "--repeats (repeats): must be at least 1"),
                                ("seed", -3, "--seed (seed): must be at least 0"),
                                ("n_train", "4", "--train (n_train): expected a whole number, got '4'")):
        with pytest.raises(AuditkitError, match=re.escape(message)):
            AuditConfig.from_preset("smoke", data="d", attr=("gender",), **{key: value})
    cfg = AuditConfig.from_preset("smoke", data="d", attr=("gender",))
    for jobs in (0, "two", -2):
        with pytest.raises(AuditkitError, match="--jobs \\(jobs\\): expected a positive whole number or -1"):
            run_audit(cfg, tmp_path / "a", jobs=jobs)
    assert not (tmp_path / "a").exists()  # nothing written


def test_every_row_says_what_made_it_and_run_json_records_the_environment(audit_dataset: Path, tmp_path: Path) -> None:
    res = run_audit(_cfg(audit_dataset, ("gender",), repeats=1), tmp_path / "a", jobs=1)
    assert set(res["classifier_runtime"]) == {lenet_fused.describe()}
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    [env_id] = set(res["environment"])
    env = run["environments"][env_id]
    assert env["cpu"] and env["cpus"] >= 1 and env["classifier_runtime"] == lenet_fused.describe()
    assert {"python", "torch", "numpy", "scikit-learn", "auditkit"} <= set(env["versions"])
    if lenet_fused.available():  # the compiler that built the kernels, and with which flags
        assert env["compiler"] and "-march=native" in env["build_flags"]
    assert env["git"] is None or len(env["git"]["revision"]) == 40
    assert run["code"]["classifier:lenet5"] and run["code"]["scoring"]


def _resume_elsewhere(audit_dataset: Path, out: Path, monkeypatch: pytest.MonkeyPatch, **kw) -> pd.DataFrame:
    """Run a small audit, drop one finished training, and resume it as if on a CPU with other instruction sets."""
    from auditkit.protocol import runner, training

    cfg = _cfg(audit_dataset, ("gender",), repeats=1)
    run_audit(cfg, out, jobs=1)
    sorted((out / "parts" / "none").glob("*.parquet"))[0].unlink()
    real = runner.environment

    def elsewhere(runtime: str | None = None) -> dict:
        env = {**real(runtime), "cpu_flags": "0000other000"}
        return {**env, "id": "elsewhere0001"}

    monkeypatch.setattr(runner, "environment", elsewhere)  # the run's record
    monkeypatch.setattr(training, "environment", elsewhere)  # each training's (in-process with one job)
    return run_audit(cfg, out, jobs=1, **kw)


def test_a_resume_in_another_environment_says_so_and_records_both(audit_dataset: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    res = _resume_elsewhere(audit_dataset, tmp_path / "a", monkeypatch)
    err = capsys.readouterr().err
    assert "resuming in another environment (cpu flags" in err and "-> 0000other000" in err
    assert len(set(res["environment"])) == 2 and "elsewhere0001" in set(res["environment"])
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert set(res["environment"]) <= set(run["environments"])


def test_strict_reproducibility_refuses_to_mix_environments(audit_dataset: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AuditkitError, match="another environment .*--strict-reproducibility refuses to mix"):
        _resume_elsewhere(audit_dataset, tmp_path / "a", monkeypatch, strict_reproducibility=True)
    assert len(list((tmp_path / "a" / "parts" / "none").glob("*.parquet"))) == 1  # nothing ran


def test_an_upgrade_that_changed_the_classifier_code_does_not_resume_old_trainings(
        audit_dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditkit.classifiers import lenet

    cfg = _cfg(audit_dataset, ("gender",), repeats=1)
    run_audit(cfg, tmp_path / "a", jobs=1)
    monkeypatch.setattr(lenet.LeNetClassifier, "cache_version", lenet.CACHE_VERSION + 1)
    with pytest.raises(AuditkitError, match=r"made by other code \(classifier:lenet5 1 -> 2\).*--force"):
        run_audit(cfg, tmp_path / "a", jobs=1)


def test_results_parquet_is_written_once_per_normalizer_not_per_training(audit_dataset: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    writes = []
    real = AuditDir.write_results
    monkeypatch.setattr(AuditDir, "write_results", lambda self, r: (writes.append(len(r)), real(self, r)))
    res = run_audit(_cfg(audit_dataset, ("gender",), normalizers=("histeq",)), tmp_path / "a", jobs=1)
    assert res["task"].nunique() * 2 == 8  # 8 trainings
    assert len(writes) == 2 and writes[-1] == len(res)  # after 'none' finished, and at the end


def test_the_fallback_to_pytorch_layers_is_said_in_one_line(audit_dataset: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv("AUDITKIT_NATIVE", "0")
    res = run_audit(_cfg(audit_dataset, ("gender",), repeats=1), tmp_path / "a", jobs=1)
    notes = [line for line in capsys.readouterr().err.splitlines() if "PyTorch layers" in line]
    assert notes == ["note: LeNet-5 runs on its PyTorch layers here (turned off by AUDITKIT_NATIVE=0): about 2x "
                     "slower, and its scores differ from the C kernels' by float rounding carried through training"]
    assert set(res["classifier_runtime"]) == {"PyTorch layers (turned off by AUDITKIT_NATIVE=0)"}
