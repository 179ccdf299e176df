"""Transfer error against the synthetic ideal: zero for a perfect normalizer, larger for doing nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from auditkit.data import load_dataset
from auditkit.data.format import FACES_FILE, META_FILE, write_meta
from auditkit.data.synth.truth import load_truth
from auditkit.normalizers.apply import normalize_dataset
from auditkit.normalizers.histeq import equalize, grey_background
from auditkit.normalizers.quality import transfer_error
from auditkit.protocol.normalization import quality_of


def test_ideal_normalizer_scores_zero_and_identity_does_not(tiny_dataset: Path, tmp_path: Path) -> None:
    ds = load_dataset(tiny_dataset)
    template = ds.subjects["subject"].iloc[0]
    same = normalize_dataset(ds, "histeq", tmp_path / "h", template=template)
    # an oracle "normalizer": every frame replaced by its ideal output (expression rendered on the template)
    oracle = normalize_dataset(ds, "none", tmp_path / "o", template=template)
    truth = load_truth(ds)
    faces = np.load(oracle / FACES_FILE, mmap_mode="r+")
    rows = np.arange(len(ds.frames))
    faces[ds.frames["face"].to_numpy()] = equalize(truth.render(rows, on=template))
    faces.flush()
    del faces
    perfect = transfer_error(ds, load_dataset(oracle), template, frames_per_subject=8)
    plain = transfer_error(ds, load_dataset(same), template, frames_per_subject=8)
    assert len(perfect) == len(ds.subjects) - 1
    assert perfect["mae_normalized"].max() < 1e-9
    assert (plain["mae_normalized"] > 10).all()
    np.testing.assert_allclose(plain["mae_normalized"], plain["mae_original"])  # histeq output == equalized original


def test_the_ideal_is_drawn_in_the_normalizers_grey_levels(tiny_dataset: Path, tmp_path: Path) -> None:
    """A perfect normalizer that equalizes by the face scores zero only against a face-equalized ideal."""
    ds = load_dataset(tiny_dataset)
    template = ds.subjects["subject"].iloc[0]
    oracle = normalize_dataset(ds, "none", tmp_path / "o", template=template)
    faces = np.load(oracle / FACES_FILE, mmap_mode="r+")
    faces[ds.frames["face"].to_numpy()] = equalize(
        load_truth(ds).render(np.arange(len(ds.frames)), on=template), "face"
    )
    faces.flush()
    del faces
    by_face = transfer_error(ds, load_dataset(oracle), template, frames_per_subject=8, region="face")
    by_image = transfer_error(ds, load_dataset(oracle), template, frames_per_subject=8)
    assert by_face["mae_normalized"].max() < 1e-9 and (by_image["mae_normalized"] > 1).all()


def test_the_ideal_has_the_normalizers_background(tiny_dataset: Path, tmp_path: Path) -> None:
    """A perfect normalizer that greys the background scores zero only against an ideal with a grey background."""
    ds = load_dataset(tiny_dataset)
    template = ds.subjects["subject"].iloc[0]
    oracle = normalize_dataset(ds, "none", tmp_path / "o", template=template)
    faces = np.load(oracle / FACES_FILE, mmap_mode="r+")
    ideal = equalize(load_truth(ds).render(np.arange(len(ds.frames)), on=template), "face")
    faces[ds.frames["face"].to_numpy()] = np.round(grey_background(ideal)).astype(np.uint8)
    faces.flush()
    del faces
    grey = transfer_error(ds, load_dataset(oracle), template, frames_per_subject=8, region="face", background="grey")
    kept = transfer_error(ds, load_dataset(oracle), template, frames_per_subject=8, region="face")
    assert grey["mae_normalized"].max() < 0.5 and (kept["mae_normalized"] > 1).all()


def test_the_quality_check_draws_the_ideal_as_the_normalizers_output_domain_says(tiny_dataset: Path,
                                                                                  tmp_path: Path) -> None:
    """normalize records the normalizer's output_domain hook in the copy's provenance (the base's image/keep for
    `none`); quality_of draws the ideal from it: a face-equalized, grey-background perfect output scores zero once
    its provenance says so, and not under the default."""
    ds = load_dataset(tiny_dataset)
    template = ds.subjects["subject"].iloc[0]
    copy = normalize_dataset(ds, "none", tmp_path / "o", template=template)
    meta = load_dataset(copy).meta
    assert meta["provenance"]["output_domain"] == {"equalize": "image", "background": "keep"}
    faces = np.load(copy / FACES_FILE, mmap_mode="r+")
    ideal = equalize(load_truth(ds).render(np.arange(len(ds.frames)), on=template), "face")
    faces[ds.frames["face"].to_numpy()] = np.round(grey_background(ideal)).astype(np.uint8)
    faces.flush()
    del faces
    assert (quality_of(ds, load_dataset(copy))["mae_normalized"] > 1).all()
    meta["provenance"]["output_domain"] = {"equalize": "face", "background": "grey"}
    write_meta(meta, copy / META_FILE)
    assert quality_of(ds, load_dataset(copy))["mae_normalized"].max() < 0.5


def test_deepfn_declares_the_domain_its_inputs_are_prepared_in() -> None:
    from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer

    assert DeepFNNormalizer(mode="amortized").output_domain() == {"equalize": "face", "background": "grey"}
    assert DeepFNNormalizer(mode="amortized", equalize="image", background="keep").output_domain() == \
        {"equalize": "image", "background": "keep"}
    assert DeepFNNormalizer(mode="per-subject", preset="lite").output_domain() == \
        {"equalize": "image", "background": "keep"}  # the paper's procedure as published
