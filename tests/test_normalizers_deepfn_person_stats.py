"""Per-person BatchNorm statistics of DeepFN (person_norm): taken from a person's frames, restored after use."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from auditkit.errors import AuditkitError
from auditkit.normalizers.deepfn.augment import preprocess
from auditkit.normalizers.deepfn.model import DeepFN
from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer
from auditkit.normalizers.deepfn.person_stats import batch_norms, person_stats, using_stats
from auditkit.normalizers.deepfn.presets import PRESETS
from tests.helpers import DEEPFN_TINY, deepfn_faces


def _buffers(model: DeepFN) -> list[torch.Tensor]:
    return [b.clone() for m in batch_norms(model) for b in (m.running_mean, m.running_var)]


def _trained_lite() -> DeepFN:
    torch.manual_seed(0)
    model = DeepFN(PRESETS["lite"])
    model.train()
    with torch.no_grad():  # move the running statistics away from their initial values
        model.reconstruct_template(preprocess(deepfn_faces(3), 64))
    return model.eval()


def test_statistics_are_the_persons_batch_statistics_and_the_model_is_left_as_it_was() -> None:
    model = _trained_lite()
    before = _buffers(model)
    faces = deepfn_faces(1)
    stats = person_stats(model, faces)
    assert all(torch.equal(a, b) for a, b in zip(before, _buffers(model), strict=True)) and not model.training
    x = preprocess(faces, 64)
    batch_mode = copy.deepcopy(model).train()  # training mode normalizes by the batch's own statistics
    with torch.no_grad():
        z = batch_mode.encoder.embed(x)
        expected = batch_mode.template_decoder(batch_mode.encoder.expand(z - z.mean(0)))
    assert torch.allclose(stats.code, z.mean(0), atol=1e-5)
    with using_stats(model, stats), torch.no_grad():
        got = model.template_decoder(model.encoder.expand(model.encoder.embed(x) - stats.code))
    # channels-last BatchNorm rounds differently in eval and training mode: up to ~3e-5 of the [0, 1] range here
    assert torch.allclose(got, expected, atol=1e-4)
    assert all(torch.equal(a, b) for a, b in zip(before, _buffers(model), strict=True))  # restored after the block
    with torch.no_grad():
        as_trained = model.template_decoder(model.encoder.expand(model.encoder.embed(x) - stats.code))
    assert not torch.allclose(as_trained, expected, atol=1e-3)  # the trained statistics fit nobody in particular


def test_statistics_need_faces_and_are_restored_after_an_error() -> None:
    model = _trained_lite()
    before = _buffers(model)
    with pytest.raises(ValueError, match="at least one face"):
        person_stats(model, deepfn_faces(1)[:0])
    with pytest.raises(RuntimeError), using_stats(model, person_stats(model, deepfn_faces(1))):
        raise RuntimeError("a failure inside the block")
    assert all(torch.equal(a, b) for a, b in zip(before, _buffers(model), strict=True))


def test_person_norm_is_the_amortized_default_and_is_validated(tmp_path: Path) -> None:
    assert DeepFNNormalizer(mode="amortized", preset="lite").resolve().person_norm
    # the paper's procedure as published
    assert not DeepFNNormalizer(mode="per-subject", preset="lite").resolve().person_norm
    assert not DeepFNNormalizer(mode="per-subject", preset="paper").resolve().person_norm
    with pytest.raises(AuditkitError, match="person_norm needs recentering and a preset with BatchNorm"):
        DeepFNNormalizer(mode="per-subject", preset="paper", recenter=True, person_norm=True).resolve()
    with pytest.raises(AuditkitError, match="recenter=False"):
        DeepFNNormalizer(mode="per-subject", preset="lite", person_norm=True).resolve()
    assert DeepFNNormalizer(mode="amortized", preset="lite").fitted_settings()["person_norm"] is True


@pytest.mark.slow
def test_person_norm_changes_the_output_not_the_weights(tmp_path: Path) -> None:
    template, people = deepfn_faces(0), {"a": deepfn_faces(1), "b": deepfn_faces(2)}
    on = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, **DEEPFN_TINY).fit(template, people)
    off = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, person_norm=False, **DEEPFN_TINY)
    off.fit(template, people)
    assert off.cache_hits == 1 and set(on.subject_stats) == {"a", "b"} and not off.subject_stats
    before = _buffers(on.shared)
    got = on.transform("a", people["a"])
    assert got.shape == (16, 128, 128) and not np.array_equal(got, off.transform("a", people["a"]))
    assert all(torch.equal(a, b) for a, b in zip(before, _buffers(on.shared), strict=True))
    # frame by frame as in one batch: each frame is normalized with the person's statistics, not its batch's
    assert np.array_equal(np.concatenate([on.transform("a", people["a"][i : i + 5]) for i in range(0, 16, 5)]), got)
    # an unseen person gets their statistics from the frames given
    assert on.transform("new", deepfn_faces(4)).shape == (16, 128, 128) and "new" not in on.subject_stats
    on.add_subject("new", deepfn_faces(4), template)
    assert "new" in on.subject_stats
