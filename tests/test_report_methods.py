"""The methods-and-limitations section is written from the run: audit kind, data, group definitions, F1 rule."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from auditkit.report.methods import group_definition, methods
from auditkit.report.render import build_report
from auditkit.report.tables import audit_tables
from tests.helpers import findings_results


def _run(data: Path, **config: object) -> dict:
    pools = {"darker": [f"D{i}" for i in range(8)], "lighter": [f"L{i}" for i in range(8)]}
    return {"data": str(data), "fingerprint": "f00", "sources": ["bp4d-synth"],
            "config": {"attr": ["fitzpatrick"], "normalizers": ["none", "norm"], "classifier": "lenet5",
                       "preset": "default", "repeats": 6, "n_train": 4, "n_val": 2, "epochs": 15, "patience": 5,
                       "f1_rule": "exclude", **config},
            "plan": {"pools": pools, "template": "T0"}}


def test_groups_are_defined_with_their_bins() -> None:
    assert "lighter = types I–II and darker = types V–VI" in group_definition({"attr": ["fitzpatrick"]})
    assert "groups pale = I–II, mid = III–IV (--bins)" in group_definition(
        {"attr": ["fitzpatrick"], "bins": "pale=1-2,mid=3-4"})
    assert "the subjects.parquet column 'age'" in group_definition({"attr": ["age"]})


@pytest.mark.slow
def test_methods_state_the_protocol_data_groups_rule_and_limits(tmp_path: Path) -> None:
    (tmp_path / "synthetic").mkdir()
    items = {
        i["topic"]: i["text"] for i in methods(_run(tmp_path, f1_rule="exclude"), audit_tables(findings_results()))
    }
    assert list(items) == ["What was audited", "Data", "Groups", "Scores", "Tests", "Limitations"]
    assert (
        "4 training and 2 validation subjects" in items["What was audited"]
        and "6 repetitions" in items["What was audited"]
    )
    assert "Synthetic" in items["Data"] and "bp4d-synth" in items["Data"]
    assert "Fitzpatrick skin phototype" in items["Groups"] and "darker (8 subjects)" in items["Groups"]
    assert "T0" in items["Groups"] and "rule 'exclude'" in items["Scores"] and "left out" in items["Scores"]
    assert "Holm" in items["Tests"] and "not its cause" in items["Limitations"]
    assert "people and the trainings" in items["Tests"] and "Welch-Satterthwaite" in items["Tests"]
    real = {i["topic"]: i["text"] for i in methods(_run(tmp_path / "elsewhere", f1_rule="one"),
                                                     audit_tables(findings_results()))}
    assert "Synthetic" not in real["Data"] and "rule 'one'" in real["Scores"]


def test_test_only_reports_have_their_own_title_and_text(tmp_path: Path) -> None:
    rows = findings_results(reps=1).query("condition == 'within'").assign(condition="test-only", train_group="-")
    out = tmp_path / "audit"
    out.mkdir()
    rows.to_parquet(out / "results.parquet", index=False)
    run = _run(tmp_path, classifier="pretrained:tiny.onnx", preset="test-only", repeats=1, n_train=0, n_val=0)
    run["plan"]["template"] = None
    # the results' groups; D99 is in the group, but the tool never ran on them: not scored
    run["plan"]["pools"] = {"dark": [f"D{i}" for i in range(8)] + ["D99"], "light": [f"L{i}" for i in range(8)]}
    (out / "run.json").write_text(json.dumps(run))
    html = build_report(out).read_text()
    assert "Test-only audit of pretrained:tiny.onnx across fitzpatrick groups" in html
    assert "Generalization audit" not in html and "Gap = within" not in html and "0 training" not in html
    assert "template subject" not in html and 'id="methods"' in html and "nothing is trained" in html
    assert "dark (9 subjects, 8 scored), light (8 subjects)" in html and "Tested groups hold 8 to 8" in html
    assert '"tested group"' in html and "pretrained \\u2192" not in html and "- \\u2192" not in html  # chart axis
    md = (out / "summary.md").read_text()
    assert md.startswith("# auditkit test-only audit: fitzpatrick") and "## Methods and limitations" in md
    assert "every subject tested once" in md and "1 repetitions" not in md
    assert pd.read_parquet(out / "results.parquet")["condition"].eq("test-only").all()
