"""The dataset format round-trips through the writer and the loader."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from auditkit.data import FORMAT_VERSION, load_dataset
from auditkit.data.format import open_faces_for_writing, write_tables


def test_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    subjects = pd.DataFrame({"subject": ["a", "b"], "dataset": ["x", "y"], "gender": ["female", None],
                             "fitzpatrick": pd.array([2, None], dtype="Int8"), "ethnicity": ["p", "q"]})
    frames = pd.DataFrame(
        {
            "subject": ["a", "a", "b"],
            "sequence": ["s1", "s1", "s2"],
            "frame": [1, 2, 1],
            "face": [0, 1, 2],
            "AU01": [1, 0, -1],
            "AU12": [0, 1, 1],
            "AU12_intensity": [0, 3, 2],
        }
    )
    meta = {
        "format_version": FORMAT_VERSION,
        "image_size": [8, 6],
        "aus": ["AU01", "AU12"],
        "provenance": {"source": "test"},
    }
    faces = open_faces_for_writing(tmp_path / "faces.npy", 3, 8, 6)
    pixels = rng.integers(0, 256, (3, 8, 6), dtype=np.uint8)
    faces[:] = pixels
    faces.flush()
    write_tables(tmp_path, subjects, frames, meta)

    ds = load_dataset(tmp_path)
    assert ds.aus == ["AU01", "AU12"]
    assert ds.image_size == (8, 6)
    assert ds.intensity_columns == ["AU12_intensity"]
    assert isinstance(ds.faces, np.memmap)
    np.testing.assert_array_equal(ds.faces_of("a"), pixels[:2])
    assert ds.frames["AU01"].dtype == np.int8
    assert ds.frames["AU01"].tolist() == [1, 0, -1]
    assert ds.subjects["ethnicity"].tolist() == ["p", "q"]
    assert pd.isna(ds.subjects["fitzpatrick"].iloc[1])
    assert ds.coded_aus("y") == ["AU12"]
    assert json.loads((tmp_path / "dataset.json").read_text())["provenance"] == {"source": "test"}


def test_fingerprint_tracks_content(dataset_copy: Path) -> None:
    before = load_dataset(dataset_copy).fingerprint
    assert load_dataset(dataset_copy).fingerprint == before
    faces = np.load(dataset_copy / "faces.npy", mmap_mode="r+")
    faces[0, 0, 0] ^= 1
    faces.flush()
    del faces
    assert load_dataset(dataset_copy).fingerprint != before
