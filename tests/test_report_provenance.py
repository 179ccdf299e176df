"""The report's provenance: every environment that made results, how many each made, and a caution when mixed."""

from __future__ import annotations

import pandas as pd

from auditkit.report.provenance import made_by, provenance
from auditkit.report.sections import _provenance_md

ENV = {"cpu": "CPU A", "cpus": 2, "cpu_flags": "aaaa", "platform": "Linux", "compiler": "gcc 12",
       "build_flags": "-O3 -march=native", "classifier_runtime": "C kernels",
       "versions": {"auditkit": "0.1.0", "python": "3.11", "torch": "2.13"}, "git": {"revision": "f" * 40,
                                                                                    "modified": False}}


def _rows(envs: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"normalizer": "none", "task": [f"t{i}" for i in range(len(envs)) for _ in range(3)],
                         "environment": [e for e in envs for _ in range(3)], "classifier_runtime": "C kernels"})


def test_one_environment_is_described_without_caution() -> None:
    value = provenance({"environments": {"e1": ENV}, "code": {"scoring": "1"}}, made_by(_rows(["e1", "e1"])))
    assert value["environments"][0]["trainings"] == 2 and not value["mixed"]
    text = "\n".join(_provenance_md(value))
    assert "CPU A" in text and "gcc 12" in text and "ffffffffffff" in text and "scoring 1" in text
    assert "Caution" not in text


def test_results_from_two_environments_are_flagged_and_counted() -> None:
    other = {**ENV, "cpu": "CPU B", "classifier_runtime": "PyTorch layers (no C compiler found)", "compiler": None}
    value = provenance({"environments": {"e1": ENV, "e2": other}}, made_by(_rows(["e1", "e2", "e2"])))
    assert value["mixed"] and [e["trainings"] for e in value["environments"]] == [1, 2]
    assert "made in 2 environments" in "\n".join(_provenance_md(value))


def test_an_environment_that_made_nothing_is_left_out_and_unknown_ones_are_named() -> None:
    value = provenance({"environments": {"e1": ENV, "e9": ENV}}, made_by(_rows(["e1", "zz"])))
    assert [e["id"] for e in value["environments"]] == ["e1"] and value["unrecorded"] == ["zz"] and value["mixed"]


def test_audits_from_before_environments_were_recorded_have_no_section() -> None:
    assert provenance({"versions": {"auditkit": "0.1.0"}}, made_by(pd.DataFrame())) == {}
