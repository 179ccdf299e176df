"""`summarize` counts subjects, groups and AU base rates correctly."""

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
        "lighter (I-II)", "lighter (I-II)", "medium (III-IV)", "medium (III-IV)", "darker (V-VI)", "darker (V-VI)", "unknown"]
