"""Merging ingested datasets: AU union with -1 where a part does not code an AU, clashes named."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from auditkit.data import load_dataset
from auditkit.data.ingest import build_job, run_ingest
from auditkit.data.merge import merge_datasets
from auditkit.errors import AuditkitError


@pytest.fixture(scope="module")
def parts(
    bp4d_tree_pristine: Path, disfa_tree_pristine: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("parts")
    run_ingest(build_job("bp4d", bp4d_tree_pristine, bp4d_tree_pristine / "demographics.csv"), base / "b", n_jobs=1)
    run_ingest(build_job("disfa", disfa_tree_pristine, disfa_tree_pristine / "demographics.csv"), base / "d", n_jobs=1)
    return base / "b", base / "d"


def test_merge_keeps_everything(parts: tuple[Path, Path], tmp_path: Path) -> None:
    b, d = (load_dataset(p) for p in parts)
    merge_datasets(list(parts), tmp_path / "m")
    m = load_dataset(tmp_path / "m")
    assert len(m.frames) == len(b.frames) + len(d.frames)
    assert set(m.subjects["dataset"]) == {"bp4d", "disfa"}
    assert "AU05" in m.aus and "AU23" in m.aus
    assert (m.frames.loc[m.frames["subject"].str.startswith("SN"), "AU23"] == -1).all()
    assert (m.frames.loc[~m.frames["subject"].str.startswith("SN"), "AU05"] == -1).all()
    assert m.coded_aus("disfa") == d.coded_aus() and m.coded_aus("bp4d") == b.coded_aus()
    last = m.frames.iloc[-1]
    np.testing.assert_array_equal(m.faces[last["face"]], d.faces[d.frames.iloc[-1]["face"]])
    assert [p["fingerprint"] for p in m.meta["provenance"]["parts"]] == [b.fingerprint, d.fingerprint]


def test_merge_clashes(parts: tuple[Path, Path], tmp_path: Path) -> None:
    with pytest.raises(AuditkitError, match="subject: 'F001' is also in|subject: '.*' is also in"):
        merge_datasets([parts[0], shutil.copytree(parts[0], tmp_path / "copy")], tmp_path / "m")
    with pytest.raises(AuditkitError, match="at least two"):
        merge_datasets([parts[0]], tmp_path / "m")
