"""Pretrained model files (TorchScript, ONNX) audited test-only, with and without a normalizer in front."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from auditkit.classifiers.pretrained import ModelCard, PretrainedClassifier, read_card
from auditkit.errors import AuditkitError, DatasetError, ModelFileError
from auditkit.protocol.audit_dir import PARTS_DIR
from auditkit.protocol.model_audit import audit_model
from tests.helpers import PRETRAINED_AUS, Brightness, run_cli, torchscript_model


def _onnx(tmp: Path, size: int = 16) -> tuple[Path, np.ndarray, np.ndarray]:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    w = (rng.normal(0, 1, (size * size, len(PRETRAINED_AUS))) / size).astype(np.float32)
    b = np.array([-0.5, 0.0, 0.5], np.float32)
    graph = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"], axis=1), helper.make_node("MatMul", ["f", "w"], ["m"]),
         helper.make_node("Add", ["m", "b"], ["z"]), helper.make_node("Sigmoid", ["z"], ["y"])],
        "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 1, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", len(PRETRAINED_AUS)])],
        [numpy_helper.from_array(w, "w"), numpy_helper.from_array(b, "b")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp / "tiny.onnx"
    onnx.save(model, str(path))
    path.with_suffix(".json").write_text(json.dumps({"aus": [1, "6", "AU12"], "input_size": [size, size]}))
    return path, w, b


def test_torchscript_predicts_like_the_module(tmp_path: Path) -> None:
    clf = PretrainedClassifier(torchscript_model(tmp_path))
    faces = np.random.default_rng(1).integers(0, 256, (5, 64, 64), dtype=np.uint8)
    expected = torch.sigmoid(Brightness()(torch.from_numpy(faces[:, None].astype(np.float32) / 255))).numpy()
    np.testing.assert_allclose(clf.predict_proba(faces), expected, rtol=1e-5)
    big = np.repeat(np.repeat(faces, 2, axis=1), 2, axis=2)  # 128x128 in, resized to the card's 64x64
    np.testing.assert_allclose(clf.predict_proba(big), expected, atol=1e-3)
    assert clf.aus == PRETRAINED_AUS
    with pytest.raises(AuditkitError, match="test-only"):
        clf.fit(faces, np.zeros((5, 3), np.int8), faces, np.zeros((5, 3), np.int8))


def test_onnx_predicts_like_numpy(tmp_path: Path) -> None:
    path, w, b = _onnx(tmp_path)
    clf = PretrainedClassifier(path, batch_size=3)  # several batches
    faces = np.random.default_rng(2).integers(0, 256, (7, 16, 16), dtype=np.uint8)
    z = faces.reshape(7, -1).astype(np.float32) / 255 @ w + b
    np.testing.assert_allclose(clf.predict_proba(faces), 1 / (1 + np.exp(-z)), rtol=1e-4)
    assert clf.aus == PRETRAINED_AUS


def test_bad_model_files_and_cards(tmp_path: Path) -> None:
    path = torchscript_model(tmp_path, output="probabilities")
    faces = np.full((2, 64, 64), 250, np.uint8)
    with pytest.raises(ModelFileError, match="output: outputs span .* set \"output\": \"logits\""):
        PretrainedClassifier(path).predict_proba(faces)
    path.with_suffix(".json").write_text(json.dumps({"aus": ["AU01", "AU06"], "output": "logits"}))
    with pytest.raises(ModelFileError, match=r"aus: the model returns shape \(2, 3\) but the card names 2 AUs"):
        PretrainedClassifier(path).predict_proba(faces)
    path.with_suffix(".json").write_text(json.dumps({"aus": ["AU01"], "colour": True}))
    with pytest.raises(ModelFileError, match="model.json: colour: unknown field"):
        PretrainedClassifier(path).load()
    path.with_suffix(".json").write_text("[1, 2]")
    with pytest.raises(ModelFileError, match="model.json: must hold a JSON object") as raised:
        PretrainedClassifier(path).load()
    assert not isinstance(raised.value, DatasetError)  # a model card is not part of a dataset
    path.with_suffix(".json").unlink()
    with pytest.raises(ModelFileError, match="model.json: model card not found"):
        PretrainedClassifier(path).load()
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="broken.onnx: not a loadable ONNX model"):
        PretrainedClassifier(bad, ModelCard(aus=("AU01",))).load()
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="broken.pt: not a loadable TorchScript model"):
        PretrainedClassifier(bad, ModelCard(aus=("AU01",))).load()
    with pytest.raises(ModelFileError, match="model file not found"):
        PretrainedClassifier(tmp_path / "nope.onnx").load()
    with pytest.raises(AuditkitError, match="audit-model"):
        PretrainedClassifier().load()
    with pytest.raises(AuditkitError, match=r"pretrained: unknown setting 'epochs' \(valid: model, card, batch_size"):
        PretrainedClassifier(tmp_path / "nope.onnx", epochs=3)
    with pytest.raises(AuditkitError, match="model card: scale: must be one of unit, byte, standard"):
        ModelCard(aus=("AU01",), scale="percent")


class Stop(Exception):
    pass


@pytest.mark.slow
def test_audit_model_with_and_without_normalizer(audit_dataset: Path, tmp_path: Path) -> None:
    model = torchscript_model(tmp_path)
    out = tmp_path / "audit"

    def stop_at_second(what: str, done: int, total: int) -> None:
        if what.startswith("normalizing") and done == 1:
            raise Stop

    with pytest.raises(Stop):
        audit_model(model, audit_dataset, ("gender",), out, ("histeq",), source="bp4d-synth", progress=stop_at_second)
    assert (out / PARTS_DIR / "none.parquet").exists() and not (out / PARTS_DIR / "histeq.parquet").exists()
    results, run = audit_model(model, audit_dataset, ("gender",), out, ("histeq",), source="bp4d-synth")
    assert run["config"]["normalizers"] == ["none", "histeq"]
    assert json.loads((out / "normalizers.json").read_text()) == {"none": {}, "histeq": {}}
    assert set(results["normalizer"]) == {"none", "histeq"} and set(results["test_group"]) == {"female", "male"}
    assert set(results["au"]) == set(PRETRAINED_AUS) and (results["condition"] == "test-only").all()
    assert run["plan"]["template"] not in set(results["subject"])  # the template is nobody's test subject
    # histeq changes the brightness the model reads, so the scores must differ
    a = results[results["normalizer"] == "none"].set_index(["subject", "au"])["accuracy"]
    b = results[results["normalizer"] == "histeq"].set_index(["subject", "au"])["accuracy"]
    assert not np.allclose(a.sort_index(), b.sort_index())
    from auditkit.report.tables import audit_tables

    tests = audit_tables(results).tests
    paired = tests[tests["test"] == "subject paired t-test"]
    assert set(paired["comparison"]) == {"histeq vs none (tested on female)", "histeq vs none (tested on male)"}
    assert paired["p"].notna().all()
    # the report builds with a normalizer in front of the model, and its findings tell both sides of each normalizer
    from auditkit.report.render import build_report

    html = build_report(out).read_text()
    md = (out / "summary.md").read_text()
    assert "histeq raises the model's score" in md or "histeq lowers the model's score" in md
    findings = md.split("## Findings")[1].split("##")[0]
    assert "the difference between test subjects in female and male" in md and "n/a" not in findings
    assert 'id="disparity-changes"' in html
    # the same audit again resumes with nothing left to do; another one is refused unless forced
    again, _ = audit_model(model, audit_dataset, ("gender",), out, ("histeq",), source="bp4d-synth")
    pd.testing.assert_frame_equal(again, results)
    with pytest.raises(AuditkitError, match="holds results of a different audit"):
        audit_model(model, audit_dataset, ("gender",), out, ("histeq",), source="bp4d-synth", seed=4)
    torch.jit.script(torch.nn.Sequential(Brightness(), torch.nn.Tanh())).save(str(model))  # a new model, same path
    with pytest.raises(AuditkitError, match="holds results of a different audit"):
        audit_model(model, audit_dataset, ("gender",), out, ("histeq",), source="bp4d-synth")


def test_audit_model_reports_frames_lost_at_ingest_and_its_source_scope(audit_dataset: Path, tmp_path: Path) -> None:
    import shutil

    from auditkit.data import load_dataset
    from auditkit.data.format import SKIPPED_FILE

    data = tmp_path / "data"
    shutil.copytree(audit_dataset, data)
    ds = load_dataset(data)
    women = ds.subjects.loc[ds.subjects["gender"] == "female", "subject"]
    rows = [{"subject": s, "sequence": "T1", "frame": 1000 + i, "reason": "no_face"} for s in women for i in range(8)]
    pd.DataFrame(rows).to_parquet(data / SKIPPED_FILE, index=False)
    results, run = audit_model(torchscript_model(tmp_path), data, ("gender",), tmp_path / "audit")
    shares = {g["group"]: g["missed_share"] for g in run["ingest_losses"]["groups"]}
    assert shares["male"] == 0 and shares["female"] > 0  # as `gap` reports them
    assert run["sources"] == sorted(ds.subjects["dataset"].unique())  # every source scored, and said so
    from auditkit.report.render import build_report

    build_report(tmp_path / "audit")
    assert "## Frames lost at ingest (no face found)" in (tmp_path / "audit" / "summary.md").read_text()


def test_audit_model_needs_shared_aus(audit_dataset: Path, tmp_path: Path) -> None:
    model = torchscript_model(tmp_path, aus=["AU43", "AU44", "AU45"])
    with pytest.raises(AuditkitError, match="model's AUs \\(AU43, AU44, AU45\\) are not coded"):
        audit_model(model, audit_dataset, ("gender",), tmp_path / "a")
    with pytest.raises(AuditkitError, match="unknown normalizer 'magic'"):
        audit_model(model, audit_dataset, ("gender",), tmp_path / "a", ("magic",))


@pytest.mark.slow
def test_audit_model_cli_and_report(audit_dataset: Path, tmp_path: Path) -> None:
    path, _, _ = _onnx(tmp_path)
    out = tmp_path / "audit"
    res = run_cli("audit-model", str(path), "--data", str(audit_dataset), "--attr", "dataset", "--out", str(out))
    assert res.returncode == 0, res.stderr
    assert "bp4d-synth vs disfa-synth" in res.stdout and (out / "report.html").exists()
    assert pd.read_parquet(out / "results.parquet")["classifier"].iloc[0] == "pretrained:tiny.onnx"


def test_exported_program(tmp_path: Path) -> None:
    path = tmp_path / "model.pt2"
    n = torch.export.Dim("n")
    ep = torch.export.export(Brightness(), (torch.zeros(2, 1, 64, 64),), dynamic_shapes={"x": {0: n}})
    torch.export.save(ep, str(path))
    path.with_suffix(".json").write_text(json.dumps({"aus": PRETRAINED_AUS, "input_size": 64, "output": "logits"}))
    faces = np.random.default_rng(3).integers(0, 256, (4, 64, 64), dtype=np.uint8)
    ref = PretrainedClassifier(torchscript_model(tmp_path)).predict_proba(faces)
    np.testing.assert_allclose(PretrainedClassifier(path).predict_proba(faces), ref, rtol=1e-5)
    with pytest.raises(ModelFileError, match="unknown model type '.h5'"):
        (tmp_path / "m.h5").write_bytes(b"x")
        PretrainedClassifier(tmp_path / "m.h5", ModelCard(aus=("AU01",))).load()


def test_model_cards_are_checked_field_by_field_and_have_a_schema(tmp_path: Path) -> None:
    card = tmp_path / "m.json"
    for text, message in (('{"aus": [1], "channels": 2}', "m.json: channels: input should be 1 or 3, got 2"),
                          ('{"aus": [1], "input_size": [64, 6.5]}', "m.json: input_size: must be [height, width]"),
                          ('{"aus": ["nose"]}', "m.json: aus: 'nose' is not an AU"),
                          ('{"aus": [1], "output": "scores"}', "m.json: output: must be one of probabilities, logits")):
        card.write_text(text)
        with pytest.raises(ModelFileError) as info:
            read_card(tmp_path / "m.onnx", card)
        assert message in str(info.value) and "\n" not in str(info.value)
    schema = ModelCard.model_json_schema()
    assert schema["additionalProperties"] is False and schema["required"] == ["aus"]
    # the schema accepts what the reader accepts: AU numbers (the README's example card) as well as names
    kinds = {k["type"] for k in schema["properties"]["aus"]["items"]["anyOf"]}
    assert kinds == {"integer", "string"}
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    example = json.loads(next(b.split("```")[0] for b in readme.split("```json\n")[1:] if '"aus": [1, 2, 4' in b))
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.validate(example, schema)
    jsonschema.validate({"aus": ["AU01", " au12 "]}, schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"aus": ["nose"]}, schema)
    assert ModelCard.from_dict({"aus": ["AU1", 12], "input_size": 96}).input_size == (96, 96)
