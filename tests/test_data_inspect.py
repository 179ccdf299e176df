"""`summarize` counts subjects, groups and AU base rates; `diagnose` finds every problem; `feasibility` says which
splits run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from auditkit.data import load_dataset
from auditkit.data.inspect import skin_bin, summarize


def test_summary_counts(tiny_dataset: Path) -> None:
    ds = load_dataset(tiny_dataset)
    s = summarize(ds)
    assert s.subjects["subjects"].sum() == 6
    assert s.subjects["frames"].sum() == len(ds.frames)
    bp4d = s.aus[(s.aus["dataset"] == "bp4d-synth") & (s.aus["au"] == "AU12")].iloc[0]
    frames = ds.frames[ds.frames["subject"].isin(ds.subjects.loc[ds.subjects["dataset"] == "bp4d-synth", "subject"])]
    assert bp4d["base_rate"] == (frames["AU12"] == 1).sum() / (frames["AU12"] >= 0).sum()
    disfa_au10 = s.aus[(s.aus["dataset"] == "disfa-synth") & (s.aus["au"] == "AU10")].iloc[0]
    assert disfa_au10["coded"] == 0


def test_skin_bins() -> None:
    assert [skin_bin(v) for v in (1, 2, 3, 4, 5, 6, pd.NA)] == [
        "lighter (I-II)", "lighter (I-II)", "medium (III-IV)", "medium (III-IV)", "darker (V-VI)", "darker (V-VI)",
        "unknown",
    ]


def _copy(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_diagnose_lists_every_problem_not_only_the_first(tiny_dataset: Path, tmp_path: Path) -> None:
    import json

    from auditkit.data.validate import diagnose

    root = _copy(tiny_dataset, tmp_path / "d")
    subjects = pd.read_parquet(root / "subjects.parquet")
    subjects.loc[0, "fitzpatrick"] = 9  # 1: out of range
    subjects.loc[1, "subject"] = subjects.loc[2, "subject"]  # 2: duplicate subject; 3: its frames' subject unknown
    subjects.to_parquet(root / "subjects.parquet", index=False)
    frames = pd.read_parquet(root / "frames.parquet")
    frames.loc[0, "AU12"] = 7  # 4: not an occurrence code
    frames.loc[1, "face"] = 10**6  # 5: outside faces.npy
    frames = frames.drop(columns="AU01")  # 6: listed in dataset.json but missing
    frames.to_parquet(root / "frames.parquet", index=False)
    problems = [str(p) for p in diagnose(root)]
    assert len(problems) == 6, problems
    for needle in ("values must be 1-6", "duplicate subject", "is not in", "'AU12': value 7", "row index 1000000",
                   "'AU01': listed in dataset.json"):
        assert any(needle in p for p in problems), needle
    (root / "faces.npy").unlink()
    meta = json.loads((root / "dataset.json").read_text())
    meta["image_size"] = "big"
    (root / "dataset.json").write_text(json.dumps(meta))
    problems = [str(p) for p in diagnose(root)]  # a missing file and a bad key, beside the subject problems
    assert any("faces.npy: file is missing" in p for p in problems)
    assert any("image_size" in p for p in problems) and any("duplicate subject" in p for p in problems)


def test_a_valid_dataset_has_no_problems_and_loading_still_stops_at_the_first(
    tiny_dataset: Path, tmp_path: Path
) -> None:
    import pytest

    from auditkit.data.validate import diagnose
    from auditkit.errors import DatasetError

    assert diagnose(tiny_dataset) == []
    root = _copy(tiny_dataset, tmp_path / "d")
    frames = pd.read_parquet(root / "frames.parquet")
    frames.loc[0, "AU12"] = 7
    frames.loc[1, "AU04"] = 8
    frames.to_parquet(root / "frames.parquet", index=False)
    with pytest.raises(DatasetError, match="value 8"):  # the first in reading order (AU04 before AU12)
        load_dataset(root)
    assert len(diagnose(root)) == 2


def test_inspect_says_which_splits_the_default_protocol_can_run(audit_dataset: Path, tmp_path: Path) -> None:
    from auditkit.protocol.feasibility import feasibility

    table = feasibility(load_dataset(audit_dataset)).set_index("attr")
    assert table.loc["gender", "runs"] and "female (9)" in table.loc["gender", "groups"]
    root = _copy(audit_dataset, tmp_path / "d")
    subjects = pd.read_parquet(root / "subjects.parquet")
    subjects["gender"] = "female"  # constant
    subjects = subjects.drop(columns="fitzpatrick")  # missing
    subjects.to_parquet(root / "subjects.parquet", index=False)
    table = feasibility(load_dataset(root)).set_index("attr")
    assert (
        not table.loc["gender", "runs"] and table.loc["gender", "why"] == "every subject has the same gender ('female')"
    )
    assert table.loc["fitzpatrick", "why"] == "no 'fitzpatrick' column in subjects.parquet"
    assert table.loc["person", "runs"]


def test_inspect_names_a_group_too_small_for_the_protocol(tiny_dataset: Path) -> None:
    from auditkit.protocol.feasibility import feasibility

    table = feasibility(load_dataset(tiny_dataset)).set_index("attr")
    assert not table["runs"].all()
    assert table.loc[~table["runs"], "why"].str.len().gt(0).all()
