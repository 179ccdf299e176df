"""DeepFN: Tables 1-2 shapes and counts, training, transform, cache, resume, modes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from auditkit.data import load_dataset
from auditkit.errors import AuditkitError
from auditkit.layers import layer_rows
from auditkit.normalizers.deepfn import normalizer as deepfn_normalizer
from auditkit.normalizers.deepfn.augment import augment, preprocess
from auditkit.normalizers.deepfn.model import ConditionedDecoder, DeepFN
from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer
from auditkit.normalizers.deepfn.presets import PRESETS, DeepFNPreset
from auditkit.normalizers.deepfn.train import TrainConfig, center_codes, fit_model, image_gradient_l1, train
from tests.helpers import DEEPFN_TINY, deepfn_faces

UNCENTERED = {"center": False, "gradient_weight": 0.0}  # Eq. 1 as published, trained amortized


def _conv_outputs(rows) -> list[tuple[int, ...]]:
    return [r.output for r in rows if r.layer in ("Conv2d", "Linear", "PixelShuffle")]


def test_paper_preset_matches_tables_1_and_2() -> None:
    net = DeepFN(PRESETS["paper"])
    enc = _conv_outputs(layer_rows({"e": net.encoder}, torch.zeros(1, 1, 128, 128)))
    assert enc == [
        (64, 64, 128), (32, 32, 256), (16, 16, 512), (8, 8, 1024), (1024,), (16384,), (4, 4, 2048), (8, 8, 512),
    ]
    dec = _conv_outputs(layer_rows({"d": net.template_decoder}, torch.zeros(1, 512, 8, 8)))
    assert dec == [(8, 8, 1024), (16, 16, 256), (16, 16, 512), (32, 32, 128), (32, 32, 256), (64, 64, 64),
                   (64, 64, 128), (128, 128, 32), (128, 128, 1)]
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(net.encoder) == 119_988_224
    assert count(net.template_decoder) == count(net.subject_decoder) == 6_269_601
    assert count(net) == 132_527_426


def test_lite_preset_keeps_the_structure() -> None:
    p = PRESETS["lite"]
    net = DeepFN(p)
    x = torch.rand(2, 1, p.size, p.size)
    assert net.encoder(x).shape == (2, p.upscale_channels // 4, p.size // 16, p.size // 16)
    y = net.normalize(x)
    assert y.shape == x.shape and 0 <= y.min() and y.max() <= 1
    assert sum(q.numel() for q in net.parameters()) < 2_000_000


def test_weights_are_channels_last_and_survive_a_round_trip(tmp_path: Path) -> None:
    # channels-last is the fast layout of the CPU's convolutions; a model rebuilt from saved weights must keep it, or
    # cached weights would normalize through other kernels than the ones they were trained with
    net = DeepFN(PRESETS["lite"], n_subjects=3)
    convs = [m.weight for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(w.is_contiguous(memory_format=torch.channels_last) for w in convs)
    torch.save(net.state_dict(), tmp_path / "w.pt")
    again = DeepFN(PRESETS["lite"], n_subjects=3)
    again.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last)
               for m in again.modules() if isinstance(m, torch.nn.Conv2d))
    x = torch.rand(4, 1, 64, 64)
    net.eval(), again.eval()
    assert torch.equal(net.normalize(x), again.normalize(x))


def test_preset_sizes_must_fit_together() -> None:
    with pytest.raises(ValueError, match="divisible by 2\\^4"):
        DeepFNPreset("bad", size=100)
    with pytest.raises(ValueError, match="gives 128x128 output, not the 64x64 input"):
        DeepFNPreset("bad", size=64)  # the paper's 4x4 bottleneck and four decoder stages make 128x128
    with pytest.raises(ValueError, match="norm must be"):
        DeepFNPreset("bad", norm="layer")
    # a 4x4 bottleneck at 64x64 works with one decoder stage fewer
    p = DeepFNPreset("small", size=64, encoder_channels=(8, 8, 8, 8), latent=16, bottleneck_channels=8,
                     upscale_channels=16, decoder_channels=(16, 8, 8), norm="batch")
    assert DeepFN(p).normalize(torch.rand(2, 1, 64, 64)).shape == (2, 1, 64, 64)


def test_augmentation_warps_only_the_input() -> None:
    x = torch.rand(3, 1, 32, 32)
    a, b = augment(x, torch.Generator().manual_seed(0))
    assert a.shape == b.shape == x.shape and not torch.allclose(a, b)
    a0, b0 = augment(x, torch.Generator().manual_seed(0), warp=0.0)
    assert torch.allclose(a0, b0, atol=1e-6)




@pytest.mark.slow
def test_training_lowers_the_loss() -> None:
    template = preprocess(deepfn_faces(0), 64)
    subject = preprocess(deepfn_faces(1), 64)
    _, losses = train(template, [subject], TrainConfig(iterations=40, batch_size=8, lr=1e-3))
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_warp_strength_is_a_training_option(monkeypatch: pytest.MonkeyPatch) -> None:
    import auditkit.normalizers.deepfn.train as train_module

    seen: list[float] = []

    def spy(x, gen, warp=0.04, grid=5):
        seen.append(warp)
        return augment(x, gen, warp=warp, grid=grid)

    monkeypatch.setattr(train_module, "augment", spy)
    faces = preprocess(deepfn_faces(0, 4), 64)
    train(faces, [faces], TrainConfig(iterations=2, batch_size=2, warp=0.01))
    assert seen == [0.01] * 4  # template and subject batch, two iterations


@pytest.mark.slow
def test_transform_shape_range_and_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    subjects = {"a": deepfn_faces(1), "b": deepfn_faces(2)}
    n = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, **DEEPFN_TINY).fit(
        deepfn_faces(0), subjects
    )
    assert isinstance(n.shared.subject_decoder, ConditionedDecoder)
    out = n.transform("a", np.zeros((5, 128, 128), np.uint8) + 90)
    assert out.shape == (5, 128, 128) and out.dtype == np.uint8
    assert n.cache_hits == 0 and len(list(tmp_path.glob("*.pt"))) == 1 and not list(tmp_path.glob("*.ckpt.pt"))

    def boom(*args, **kwargs):
        raise AssertionError("a cached model must not be retrained")

    monkeypatch.setattr(deepfn_normalizer, "train", boom)
    again = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, **DEEPFN_TINY).fit(
        deepfn_faces(0), subjects
    )
    assert again.cache_hits == 1
    np.testing.assert_array_equal(again.transform("a", deepfn_faces(3)), n.transform("a", deepfn_faces(3)))


@pytest.mark.slow
@pytest.mark.parametrize("schedule", ["constant", "cosine"])  # the cosine rate is a function of the iteration alone
def test_resume_after_interruption_matches_uninterrupted(tmp_path: Path, schedule: str) -> None:
    template, subject = preprocess(deepfn_faces(0), 64), preprocess(deepfn_faces(1), 64)
    cfg = TrainConfig(iterations=10, batch_size=4, checkpoint_every=4, lr=1e-3, lr_schedule=schedule)
    straight, _ = train(template, [subject], cfg)

    class Stop(Exception):
        pass

    def interrupt(done: int, total: int, loss: float) -> None:
        if done == 6:
            raise Stop

    ckpt = tmp_path / "m.ckpt.pt"
    with pytest.raises(Stop):
        train(template, [subject], cfg, checkpoint=ckpt, progress=interrupt)
    assert torch.load(ckpt, weights_only=False)["iteration"] == 4
    resumed, losses = train(template, [subject], cfg, checkpoint=ckpt)
    assert len(losses) == 10
    for k, v in straight.state_dict().items():
        assert torch.allclose(v, resumed.state_dict()[k]), k


@pytest.mark.slow
def test_per_subject_mode_and_errors(tmp_path: Path) -> None:
    n = DeepFNNormalizer(mode="per-subject", preset="lite", cache_dir=tmp_path, **DEEPFN_TINY)
    n.fit(deepfn_faces(0), {"a": deepfn_faces(1), "b": deepfn_faces(2)})
    assert set(n.models) == {"a", "b"} and len(list(tmp_path.glob("*.pt"))) == 2
    with pytest.raises(AuditkitError, match="no per-subject model for 'c'"):
        n.transform("c", deepfn_faces(3))
    with pytest.raises(AuditkitError, match="unknown mode"):
        DeepFNNormalizer(mode="magic").resolve()
    with pytest.raises(AuditkitError, match="unknown preset"):
        DeepFNNormalizer(preset="huge").resolve()


@pytest.mark.slow
def test_normalize_dataset_writes_a_valid_dataset(tiny_dataset: Path, tmp_path: Path) -> None:
    from auditkit.normalizers.apply import normalize_dataset

    ds = load_dataset(tiny_dataset)
    out = normalize_dataset(ds, "deepfn", tmp_path / "norm", options={"cache_dir": str(tmp_path / "c"), **DEEPFN_TINY})
    result = load_dataset(out)
    assert result.faces.shape == ds.faces.shape
    assert result.frames.equals(ds.frames)
    assert result.meta["provenance"]["normalizer"] == "deepfn"
    assert result.meta["provenance"]["normalized_from"]["fingerprint"] == ds.fingerprint
    # the same record of settings as the audits' normalizers.json (fitted_settings), not the model's internals
    assert result.meta["provenance"]["normalizer_config"]["iterations"] == DEEPFN_TINY["iterations"]
    assert {"mode", "preset", "recenter", "person_norm"} <= set(result.meta["provenance"]["normalizer_config"])
    assert not np.array_equal(np.asarray(result.faces[:5]), np.asarray(ds.faces[:5]))


@pytest.mark.slow
def test_per_subject_fits_run_through_a_parallel_map_into_the_cache(tmp_path: Path) -> None:
    plain = DeepFNNormalizer(mode="per-subject", preset="lite", cache_dir=tmp_path / "plain", **DEEPFN_TINY)
    plain.fit(deepfn_faces(0), {"a": deepfn_faces(1), "b": deepfn_faces(2)})
    calls: list[tuple] = []

    def serial_map(fn, jobs):  # what a cluster's map does, in order and in this process
        calls.extend(jobs)
        return [fn(*job) for job in jobs]

    spread = DeepFNNormalizer(mode="per-subject", preset="lite", cache_dir=tmp_path / "spread", **DEEPFN_TINY)
    spread.parallel_map = serial_map
    spread.fit(deepfn_faces(0), {"a": deepfn_faces(1), "b": deepfn_faces(2)})
    assert len(calls) == 2 and spread.cache_hits == 2  # trained by the map, then loaded from the cache
    for s in ("a", "b"):
        np.testing.assert_array_equal(plain.transform(s, deepfn_faces(3)), spread.transform(s, deepfn_faces(3)))
    again = DeepFNNormalizer(mode="per-subject", preset="lite", cache_dir=tmp_path / "spread", **DEEPFN_TINY)
    again.parallel_map = serial_map
    again.fit(deepfn_faces(0), {"a": deepfn_faces(1), "b": deepfn_faces(2)})
    assert len(calls) == 2  # everything cached: nothing sent to the map


@pytest.mark.slow
def test_add_subject_fine_tunes_a_new_embedding(tmp_path: Path) -> None:
    n = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, iterations=20, batch_size=8, lr=1e-3,
                         person_norm=False, **UNCENTERED)
    n.fit(deepfn_faces(0), {"a": deepfn_faces(1), "b": deepfn_faces(2)})
    n.add_subject("new", deepfn_faces(5), deepfn_faces(0), iterations=30)
    assert n.shared.subject_decoder.embedding.weight.shape[0] == 3
    losses = n.losses["new"]
    assert len(losses) == 30 and np.mean(losses[-5:]) < np.mean(losses[:5])
    # the encoder moved: the other people's stored mean codes are stale and dropped, the template's is refreshed
    assert set(n.subject_codes) == {"new"}
    with torch.inference_mode():
        expected = n.shared.encoder.embed(n.shared.prepare(deepfn_faces(0))).mean(0)
    assert torch.allclose(n.template_codes["amortized"], expected, atol=1e-5)
    assert n.transform("new", deepfn_faces(5)).shape == (16, 128, 128)
    with pytest.raises(AuditkitError, match="needs a fitted amortized model"):
        DeepFNNormalizer(mode="per-subject", cache_dir=tmp_path).add_subject("x", deepfn_faces(1), deepfn_faces(0))


def _decoded(model: DeepFN, code: torch.Tensor, size: int) -> np.ndarray:
    import cv2

    with torch.inference_mode():
        y = model.template_decoder(model.encoder.expand(code)).squeeze(1).clamp(0, 1) * 255 + 0.5
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_LINEAR) for f in y.to(torch.uint8).numpy()])


def test_recentering_swaps_a_persons_mean_code_for_the_templates(tmp_path: Path) -> None:
    template, a = deepfn_faces(0), deepfn_faces(1)
    # the trained BatchNorm statistics (person_norm off), so the arithmetic below can be checked by hand
    n = DeepFNNormalizer(
        mode="amortized", preset="lite", cache_dir=tmp_path, person_norm=False, **DEEPFN_TINY, **UNCENTERED
    )
    n.fit(template, {"a": a, "b": deepfn_faces(2)})
    plain = DeepFNNormalizer(
        mode="amortized", preset="lite", cache_dir=tmp_path, recenter=False, **DEEPFN_TINY, **UNCENTERED
    )
    plain.fit(template, {"a": a, "b": deepfn_faces(2)})
    # recentering does not change the weights
    assert n.resolved_.recenter and not plain.resolved_.recenter and plain.cache_hits == 1
    assert not DeepFNNormalizer(mode="per-subject").resolve().recenter  # the paper's procedure stays as published
    with torch.inference_mode():
        z = n.shared.encoder.embed(n.shared.prepare(a))
        t = n.shared.encoder.embed(n.shared.prepare(template)).mean(0)
    got = n.transform("a", a).astype(int)
    assert np.abs(got - _decoded(n.shared, z - z.mean(0) + t, 128)).max() <= 1
    assert np.abs(plain.transform("a", a).astype(int) - _decoded(n.shared, z, 128)).max() <= 1
    assert not np.array_equal(got, plain.transform("a", a))
    # the template's own frames, as an unseen person: nothing to swap, so recentering changes (almost) nothing
    assert np.abs(n.transform("tpl", template).astype(int) - plain.transform("tpl", template)).max() <= 1


@pytest.mark.slow
def test_recentering_an_unseen_person_needs_enough_frames(tmp_path: Path) -> None:
    n = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, **DEEPFN_TINY)
    n.fit(deepfn_faces(0), {"a": deepfn_faces(1), "b": deepfn_faces(2)})
    assert n.transform("new", deepfn_faces(5)).shape == (16, 128, 128)
    with pytest.raises(AuditkitError, match="recentering 'new' needs at least 10 of their frames \\(got 3\\)"):
        n.transform("new", deepfn_faces(5)[:3])
    with pytest.raises(AuditkitError, match="needs at least 10"):
        n.add_subject("new", deepfn_faces(5)[:3], deepfn_faces(0))
    n.add_subject("new", deepfn_faces(5), deepfn_faces(0))  # no fine-tune: the mean code alone
    assert "new" in n.subject_codes and n.shared.subject_decoder.embedding.weight.shape[0] == 2
    assert n.transform("new", deepfn_faces(5)[:3]).shape == (3, 128, 128)  # known now: any number of frames
    per = DeepFNNormalizer(mode="per-subject", preset="lite", cache_dir=tmp_path, recenter=True, **DEEPFN_TINY)
    per.fit(deepfn_faces(0), {"a": deepfn_faces(1)})
    assert set(per.template_codes) == {"a"} and set(per.subject_codes) == {"a"}
    assert per.transform("a", deepfn_faces(1)[:2]).shape == (2, 128, 128)
    per.fit(deepfn_faces(0), {"b": deepfn_faces(2)})  # a re-fit keeps nothing of the earlier one
    assert set(per.models) == set(per.template_codes) == set(per.subject_codes) == {"b"}


def test_center_codes_removes_each_persons_block_mean() -> None:
    z = torch.randn(8, 5) + torch.arange(8).repeat_interleave(1)[:, None].float()
    c = center_codes(z, 2)
    assert torch.allclose(c.view(2, 4, 5).mean(1), torch.zeros(2, 5), atol=1e-6)
    assert torch.allclose(c[:4], z[:4] - z[:4].mean(0), atol=1e-6)
    assert torch.allclose(center_codes(z, 1), z - z.mean(0), atol=1e-6)


def test_image_gradient_l1_sees_blur_that_pixel_means_miss() -> None:
    sharp = torch.zeros(1, 1, 8, 8)
    sharp[..., :, 4:] = 1.0
    blurred = torch.nn.functional.avg_pool2d(sharp, 3, stride=1, padding=1, count_include_pad=False)
    assert image_gradient_l1(sharp, sharp) == 0
    assert image_gradient_l1(blurred, sharp) > 0
    assert image_gradient_l1(sharp + 0.3, sharp) < 1e-6  # a brightness shift has the same gradients


def test_training_options_are_validated() -> None:
    with pytest.raises(ValueError, match="multiple of people_per_batch 4"):
        TrainConfig(center=True, batch_size=6)
    with pytest.raises(ValueError, match="at least 2 frames per person"):
        TrainConfig(center=True, batch_size=4)
    with pytest.raises(ValueError, match="gradient_weight"):
        TrainConfig(gradient_weight=-1.0)
    with pytest.raises(AuditkitError, match="deepfn: batch_size 6 must be a multiple"):
        DeepFNNormalizer(mode="amortized", batch_size=6).resolve()
    with pytest.raises(AuditkitError, match="cannot be used with recenter=False"):
        DeepFNNormalizer(mode="amortized", recenter=False).resolve()


def test_cpu_default_trains_centered_with_a_gradient_term_and_the_paper_mode_does_not() -> None:
    amortized = DeepFNNormalizer(mode="amortized", preset="lite")
    assert amortized.config.center and amortized.config.gradient_weight == 1.0 and amortized.resolve().recenter
    assert amortized.config.lr == 1e-3 and PRESETS["lite"].norm == "batch" and PRESETS["paper"].norm == "none"
    paper = DeepFNNormalizer(mode="per-subject", preset="paper")
    assert not paper.config.center and paper.config.gradient_weight == 0 and not paper.resolve().recenter
    assert amortized.config.warp == 0.0 and paper.config.warp == 0.04  # the paper keeps faceswap's random warp
    assert amortized.config.iterations == 3000
    # the CPU default equalizes by the inner face; the paper's procedure keeps whole-image equalization
    assert amortized.config.equalize == "face" and paper.config.equalize == "image"
    assert amortized.config.background == "grey" and paper.config.background == "keep"  # likewise the background
    assert {"center", "people_per_batch", "gradient_weight", "warp"} <= set(amortized.fitted_settings())


@pytest.mark.slow
def test_centered_training_batches_people_in_blocks_and_learns(tmp_path: Path) -> None:
    cfg = TrainConfig(iterations=30, batch_size=8, lr=1e-3, center=True, people_per_batch=2, gradient_weight=1.0)
    _, losses = train(preprocess(deepfn_faces(0), 64), [preprocess(deepfn_faces(i), 64) for i in (1, 2, 3)], cfg)
    assert len(losses) == 30 and np.mean(losses[-5:]) < np.mean(losses[:5])


def test_a_centered_model_normalizes_deviations_from_the_persons_mean(tmp_path: Path) -> None:
    template, a = deepfn_faces(0), deepfn_faces(1)
    # trained BatchNorm statistics, to check the arithmetic (person statistics: test_normalizers_deepfn_person_stats)
    n = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, person_norm=False, **DEEPFN_TINY)
    n.fit(template, {"a": a, "b": deepfn_faces(2)})
    assert n.config.center and torch.count_nonzero(n.template_codes["amortized"]) == 0
    with torch.inference_mode():
        z = n.shared.encoder.embed(n.shared.prepare(a))
    got = n.transform("a", a).astype(int)
    assert np.abs(got - _decoded(n.shared, z - z.mean(0), 128)).max() <= 1
    # an unseen person is centered on their own frames' mean
    with torch.inference_mode():
        u = n.shared.encoder.embed(n.shared.prepare(deepfn_faces(5)))
    assert np.abs(n.transform("new", deepfn_faces(5)).astype(int) - _decoded(n.shared, u - u.mean(0), 128)).max() <= 1


@pytest.mark.slow
def test_cosine_schedule_acts_and_is_validated() -> None:
    template, subject = preprocess(deepfn_faces(0), 64), preprocess(deepfn_faces(1), 64)
    cosine, _ = train(template, [subject], TrainConfig(iterations=10, batch_size=4, lr=1e-3, lr_schedule="cosine"))
    constant, _ = train(template, [subject], TrainConfig(iterations=10, batch_size=4, lr=1e-3))
    assert not all(torch.allclose(v, constant.state_dict()[k]) for k, v in cosine.state_dict().items())
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="step")


def test_per_subject_paper_preset_trains_with_the_papers_settings() -> None:
    paper = DeepFNNormalizer(mode="per-subject", preset="paper").config
    assert (paper.iterations, paper.batch_size, paper.lr, paper.betas) == (50_000, 64, 5e-5, (0.5, 0.999))
    assert DeepFNNormalizer(mode="per-subject", preset="paper", iterations=200).config.iterations == 200
    lite = DeepFNNormalizer(mode="per-subject", preset="lite").config
    assert (lite.iterations, lite.batch_size, lite.lr) == (1500, 32, 5e-4)  # the CPU-sized paper procedure
    assert DeepFNNormalizer(mode="amortized", preset="paper").config.lr == 1e-3  # amortized keeps its own defaults


def test_a_progress_callback_can_stop_training_and_keep_the_weights() -> None:
    class Stop(Exception):
        pass

    def stop_after_three(done: int, total: int, loss: float) -> None:
        if done == 3:
            raise Stop

    torch.manual_seed(0)
    model = DeepFN(PRESETS["lite"])
    before = [p.detach().clone() for p in model.parameters()]
    cfg = TrainConfig(iterations=50, batch_size=4)
    with pytest.raises(Stop):
        fit_model(
            model, preprocess(deepfn_faces(0), 64), [preprocess(deepfn_faces(1), 64)], None, cfg, cfg.iterations,
            None, stop_after_three,
        )
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))  # three steps were taken
    torch.manual_seed(0)
    again = DeepFN(PRESETS["lite"])
    fit_model(again, preprocess(deepfn_faces(0), 64), [preprocess(deepfn_faces(1), 64)], None, cfg, 3)
    # same as a 3-step run
    assert all(torch.equal(a, b) for a, b in zip(again.parameters(), model.parameters(), strict=True))


def test_equalize_region_is_a_validated_training_option_with_its_own_cache_key(tmp_path: Path) -> None:
    from auditkit.normalizers.deepfn.train import cache_key

    with pytest.raises(ValueError, match="equalize must be one of image, face"):
        TrainConfig(equalize="hair")
    with pytest.raises(AuditkitError, match="deepfn: equalize must be one of"):
        DeepFNNormalizer(mode="amortized", equalize="hair").resolve()
    # face-equalized weights are never mistaken for whole-image ones (or the other way round)
    image, face = TrainConfig(), TrainConfig(equalize="face")
    assert cache_key("amortized", image, "t", {}) != cache_key("amortized", face, "t", {})
    assert DeepFNNormalizer(mode="amortized", equalize="face").fitted_settings()["equalize"] == "face"


def test_a_face_equalized_model_prepares_every_input_by_the_face(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Training, the person statistics and normalization all see faces equalized by the inner face, also when the
    weights come back from the cache."""
    from auditkit.normalizers.deepfn import augment as augment_module

    regions: list[str] = []
    real = augment_module.equalize

    def spy(faces: np.ndarray, region: str = "image") -> np.ndarray:
        regions.append(region)
        return real(faces, region)

    monkeypatch.setattr(augment_module, "equalize", spy)
    subjects = {"a": deepfn_faces(1), "b": deepfn_faces(2)}
    n = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, equalize="face", **DEEPFN_TINY)
    n.fit(deepfn_faces(0), subjects)
    out = n.transform("a", deepfn_faces(3))
    assert n.shared.equalize == "face" and set(regions) == {"face"}
    regions.clear()
    again = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, equalize="face", **DEEPFN_TINY)
    again.fit(deepfn_faces(0), subjects)
    assert again.cache_hits == 1 and again.shared.equalize == "face"
    np.testing.assert_array_equal(again.transform("a", deepfn_faces(3)), out)
    assert set(regions) == {"face"}


@pytest.mark.slow
def test_background_is_a_validated_training_option_that_every_input_follows(tmp_path: Path) -> None:
    """A grey-background model's training inputs, person statistics and normalization inputs all have the background
    greyed, also when its weights come back from the cache; the option has its own cache key and is refused when
    unknown."""
    from auditkit.normalizers.deepfn.train import cache_key

    with pytest.raises(ValueError, match="background must be one of keep, grey"):
        TrainConfig(background="black")
    with pytest.raises(AuditkitError, match="deepfn: background must be one of"):
        DeepFNNormalizer(mode="amortized", background="black").resolve()
    assert cache_key("amortized", TrainConfig(), "t", {}) != cache_key(
        "amortized", TrainConfig(background="grey"), "t", {}
    )
    keep, grey = preprocess(deepfn_faces(0, 3), 64), preprocess(deepfn_faces(0, 3), 64, background="grey")
    assert torch.allclose(grey[:, :, 0, 0], torch.full((3, 1), 0.5), atol=1e-3)
    assert torch.allclose(grey[:, :, 32, 32], keep[:, :, 32, 32], atol=1e-3)
    subjects = {"a": deepfn_faces(1), "b": deepfn_faces(2)}
    n = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, background="grey", **DEEPFN_TINY)
    n.fit(deepfn_faces(0), subjects)
    assert n.shared.background == "grey" and n.fitted_settings()["background"] == "grey"
    assert torch.equal(n.shared.prepare(deepfn_faces(3)), preprocess(deepfn_faces(3), 64, "face", "grey"))
    out = n.transform("a", deepfn_faces(3))
    again = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, background="grey", **DEEPFN_TINY)
    again.fit(deepfn_faces(0), subjects)
    assert again.cache_hits == 1 and again.shared.background == "grey"
    np.testing.assert_array_equal(again.transform("a", deepfn_faces(3)), out)
    other = DeepFNNormalizer(mode="amortized", preset="lite", cache_dir=tmp_path, background="keep", **DEEPFN_TINY)
    other.fit(deepfn_faces(0), subjects)
    assert other.cache_hits == 0 and not np.array_equal(other.transform("a", deepfn_faces(3)), out)


def test_without_a_warp_the_input_is_the_target_and_the_random_stream_is_unchanged() -> None:
    """warp 0 skips the resampling of a zero field, but draws the same random numbers, so the batches that follow
    (and so the trained weights) are the same as when the zero field was computed."""
    x = preprocess(deepfn_faces(0, 4), 64)
    still, moved = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    warped, target = augment(x, still, warp=0.0)
    augment(x, moved, warp=0.04)
    assert torch.equal(warped, target) and warped.data_ptr() != target.data_ptr()
    assert torch.equal(still.get_state(), moved.get_state())
