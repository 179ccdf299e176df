"""The audit directory: one resume rule for every audit kind, --force that removes only an audit's files, parts,
normalizer records and the input cache keyed by the normalizer's settings."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from auditkit.errors import AuditkitError
from auditkit.protocol.audit_dir import AuditDir, settings_key

IDENTITY = {"config": {"attr": ("gender",), "seed": 0}, "fingerprint": "abc"}
KEYS = ("config", "fingerprint")


def test_the_same_audit_resumes_and_keeps_its_parts(tmp_path: Path) -> None:
    audit = AuditDir(tmp_path / "a")
    assert audit.open({**IDENTITY, "plan": {"n": 1}}, KEYS) is False  # a new audit
    audit.store_part(pd.DataFrame({"x": [1]}), "none", "male-r00")
    # tuples come back from JSON as lists: the stored identity must still compare equal
    assert audit.open({**IDENTITY, "plan": {"n": 2}}, KEYS) is True
    assert audit.finished_parts() == [audit.part("none", "male-r00")]
    run = json.loads(audit.run_file.read_text())
    assert run["fingerprint"] == "abc" and run["plan"] == {"n": 2}  # the record is refreshed, the identity kept


def test_another_audit_is_refused_and_force_removes_only_audit_files(tmp_path: Path) -> None:
    audit = AuditDir(tmp_path)
    audit.open(IDENTITY, KEYS)
    audit.store_part(pd.DataFrame({"x": [1]}), "none", "male-r00")
    audit.write_results(pd.DataFrame({"x": [1]}))
    (tmp_path / "notes.txt").write_text("mine")
    other = {**IDENTITY, "fingerprint": "def"}
    with pytest.raises(AuditkitError) as info:
        audit.open(other, KEYS)
    message = str(info.value)
    assert "holds results of a different audit" in message and "--force" in message and "\n" not in message
    assert audit.part("none", "male-r00").exists()  # nothing was touched by the refusal
    assert audit.open(other, KEYS, force=True) is False
    assert not audit.finished_parts() and not audit.results.exists()
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_newer_code_of_a_discarded_normalizer_resumes_the_rest(tmp_path: Path) -> None:
    # after a normalizer's code changes, redoing only its work (bench_replication.py --rerun) must keep the others'
    audit = AuditDir(tmp_path)
    old = {**IDENTITY, "code": {"normalizer:deepfn": "1.1", "normalizer:none": "1", "scoring": "1"}}
    new = {**old, "code": {**old["code"], "normalizer:deepfn": "2.1"}}
    audit.open(old, (*KEYS, "code"))
    for norm in ("none", "deepfn"):
        audit.store_part(pd.DataFrame({"x": [1]}), norm, "male-r00")
    with pytest.raises(AuditkitError, match=r"made by other code \(normalizer:deepfn 1.1 -> 2.1\)"):
        audit.open(new, (*KEYS, "code"))
    audit.discard_normalizer("deepfn")
    assert audit.open(new, (*KEYS, "code")) is True
    assert audit.finished_parts() == [audit.part("none", "male-r00")]
    assert json.loads(audit.run_file.read_text())["code"]["normalizer:deepfn"] == "2.1"
    # code that changed for a normalizer whose work is still there is refused as before
    newer = {**new, "code": {**new["code"], "normalizer:none": "2"}}
    with pytest.raises(AuditkitError, match="normalizer:none 1 -> 2"):
        audit.open(newer, (*KEYS, "code"))


@pytest.mark.parametrize("damage", ["{torn", "[1, 2]", None])
def test_results_without_a_readable_run_record_are_not_resumed(tmp_path: Path, damage: str | None) -> None:
    audit = AuditDir(tmp_path)
    audit.store_part(pd.DataFrame({"x": [1]}), "none")
    if damage is not None:
        audit.run_file.write_text(damage)
    with pytest.raises(AuditkitError, match="different audit"):
        audit.open(IDENTITY, KEYS)
    audit.open(IDENTITY, KEYS, force=True)
    assert not audit.finished_parts()


def test_read_run_and_read_results_give_one_line_errors(tmp_path: Path) -> None:
    audit = AuditDir(tmp_path)
    with pytest.raises(AuditkitError, match=r"run.json: file is missing"):
        audit.read_run()
    assert audit.read_run(missing_ok=True) == {}
    audit.run_file.write_text("{not json")
    with pytest.raises(AuditkitError, match=r"run.json: not valid JSON"):
        audit.read_run()
    with pytest.raises(AuditkitError, match=r"results.parquet: file is missing"):
        audit.read_results()
    audit.results.write_bytes(b"PAR1 torn")
    with pytest.raises(AuditkitError, match=r"results.parquet: not a readable Parquet file"):
        audit.read_results()
    audit.write_results(pd.DataFrame({"x": pd.Series([], dtype=int)}))
    with pytest.raises(AuditkitError, match="holds no results yet"):
        audit.read_results()


def test_parts_being_written_are_not_finished_parts(tmp_path: Path) -> None:
    audit = AuditDir(tmp_path)
    part = audit.store_part(pd.DataFrame({"normalizer": ["none"], "task": ["male-r00"], "test_group": ["male"],
                                          "subject": ["s"], "au": ["AU01"]}), "none", "male-r00")
    # a concurrent training's atomic write in progress: its temporary file also ends in .parquet
    (part.parent / ".female-r00.parquet.123.tmp.parquet").write_bytes(b"half-written")
    assert audit.finished_parts() == [part]
    assert len(audit.collect_results()) == 1


def test_an_unreadable_part_is_dropped_so_its_work_runs_again(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    audit = AuditDir(tmp_path)
    good = audit.store_part(pd.DataFrame({"normalizer": ["none"], "task": ["a"]}), "none", "a")
    torn = audit.store_part(pd.DataFrame({"normalizer": ["none"], "task": ["b"]}), "none", "b")
    torn.write_bytes(torn.read_bytes()[:20])
    assert audit.drop_unreadable_parts() == [torn]
    assert audit.finished_parts() == [good] and f"{torn}: unreadable" in capsys.readouterr().err


def test_test_only_parts_and_collection_order(tmp_path: Path) -> None:
    audit = AuditDir(tmp_path)
    audit.store_part(pd.DataFrame({"normalizer": ["histeq"], "subject": ["b"]}), "histeq")
    audit.store_part(pd.DataFrame({"normalizer": ["none"], "subject": ["a"]}), "none")
    assert audit.part("none") == tmp_path / "parts" / "none.parquet"
    assert list(audit.collect_results()["normalizer"]) == ["histeq", "none"]


def test_record_normalizer_states_deepfn_settings(tmp_path: Path) -> None:
    from auditkit.normalizers.base import params_of
    from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer

    audit = AuditDir(tmp_path)
    audit.normalizers_file.write_text("{damaged")  # rebuilt, since no result depends on it
    from auditkit.normalizers.identity import IdentityNormalizer

    audit.record_normalizer("none", params_of(IdentityNormalizer()))
    deepfn = DeepFNNormalizer(mode="amortized", preset="lite", iterations=7, seed=3)
    audit.record_normalizer("deepfn", params_of(deepfn))
    got = audit.normalizer_settings()
    assert got["none"] == {}
    assert {k: got["deepfn"][k] for k in ("mode", "preset", "iterations", "seed", "recenter")} == \
        {"mode": "amortized", "preset": "lite", "iterations": 7, "seed": 3, "recenter": True}
    audit.normalizers_file.write_text('{"deepfn": 3}')
    with pytest.raises(AuditkitError, match="normalizers.json: expected an object of normalizer name -> settings"):
        audit.normalizer_settings()


def test_the_input_cache_is_keyed_by_settings(tmp_path: Path) -> None:
    audit = AuditDir(tmp_path)
    a = audit.inputs_file("deepfn", {"settings": {"iterations": 3000}, "fingerprint": "abc"}, 64)
    b = audit.inputs_file("deepfn", {"settings": {"iterations": 1500}, "fingerprint": "abc"}, 64)
    assert a != b and a.parent == b.parent == tmp_path / "cache" / "deepfn" and a.name.startswith("64px-")
    assert a == audit.inputs_file("deepfn", {"fingerprint": "abc", "settings": {"iterations": 3000}}, 64)
    assert settings_key({"t": (1, 2)}) == settings_key({"t": [1, 2]})
    assert audit.find_inputs("deepfn") is None
    a.parent.mkdir(parents=True)
    np.save(a, np.zeros((1, 2, 2), np.uint8))
    assert audit.find_inputs("deepfn") == a and audit.find_inputs("deepfn-v2") is None  # no prefix match
    legacy = AuditDir(tmp_path / "old")  # an audit from before the settings key: still found, by exact name
    legacy.cache.mkdir(parents=True)
    for name in ("deepfn-64px-abc.npy", "deepfn-v2-64px-abc.npy"):
        np.save(legacy.cache / name, np.zeros((1, 2, 2), np.uint8))
    assert legacy.find_inputs("deepfn") == legacy.cache / "deepfn-64px-abc.npy"
    assert legacy.find_inputs("deepfn-v2") == legacy.cache / "deepfn-v2-64px-abc.npy"


def test_a_resumed_audit_does_not_reuse_inputs_of_other_normalizer_settings(audit_dataset: Path, tmp_path: Path,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """A changed default (here histeq's settings, as after an upgrade) makes the runner normalize again."""
    from auditkit.data.dataset import load_dataset
    from auditkit.normalizers.histeq import HistEqNormalizer
    from auditkit.protocol.config import AuditConfig
    from auditkit.protocol.inputs import prepare_inputs
    from auditkit.protocol.plan import make_plan

    cfg = AuditConfig.from_preset("smoke", data=str(audit_dataset), attr=("gender",), repeats=1, n_train=2, n_val=1)
    plan = make_plan(cfg, load_dataset(audit_dataset))
    audit = AuditDir(tmp_path)
    first = prepare_inputs(plan, "histeq", audit)
    assert prepare_inputs(plan, "histeq", audit) == first  # the same settings: the cache is reused
    monkeypatch.setattr(HistEqNormalizer, "get_params", lambda self: {"clip": 2.0}, raising=False)
    second = prepare_inputs(plan, "histeq", audit)
    assert second != first and second.exists() and audit.normalizer_settings()["histeq"] == {"clip": 2.0}


def test_params_of_reads_fitted_settings_json_ready() -> None:
    from auditkit.contract import Normalizer
    from auditkit.normalizers.base import params_of

    class Tiles(Normalizer):
        def __init__(self, tiles: int = 8, path: Path = Path("/x"), seed: int = 0) -> None:
            self.tiles, self.path, self.seed = tiles, path, seed

        def fit(self, template_faces: object, subject_faces: object) -> Tiles:
            return self

        def transform(self, subject: str, faces: object) -> object:
            return faces

    assert params_of(Tiles()) == {"tiles": 8, "path": "/x"}  # JSON-ready: anything else becomes its text
