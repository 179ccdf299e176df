"""The fused C kernels compute what LeNet-5's PyTorch layers compute, whatever the batch split, and fall back
cleanly."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from auditkit import native
from auditkit.classifiers import lenet_fused
from auditkit.classifiers.base import runtime_of
from auditkit.classifiers.lenet import LeNet5, LeNetClassifier

needs_kernels = pytest.mark.skipif(not lenet_fused.available(), reason=f"{lenet_fused.unavailable_reason()}")


def _close(a: torch.Tensor, b: torch.Tensor, rtol: float = 1e-5) -> None:
    # float sums in another order: compare against the largest magnitude, not elementwise
    scale = max(1.0, float(b.detach().abs().max()))
    diff = float((a - b).detach().abs().max())
    assert diff <= rtol * scale, diff


def _reference(x: torch.Tensor, w1: torch.Tensor, b1: torch.Tensor, w2: torch.Tensor,
               b2: torch.Tensor) -> torch.Tensor:
    return F.avg_pool2d(F.relu(F.conv2d(F.avg_pool2d(F.relu(F.conv2d(x, w1, b1)), 2), w2, b2)), 2)


@needs_kernels
@pytest.mark.parametrize("co,size", [(16, (64, 64)), (16, (33, 70)), (3, (20, 36)), (17, (14, 11)), (5, (10, 10))])
def test_features_match_the_pytorch_layers_and_their_gradients(co: int, size: tuple[int, int]) -> None:
    # odd sizes (pooling drops a row or column), filter counts that are not whole vectors, the smallest image
    torch.manual_seed(0)
    x = torch.randn(5, 1, *size)
    params = (torch.randn(6, 1, 3, 3, requires_grad=True), torch.randn(6, requires_grad=True),
              torch.randn(co, 6, 3, 3, requires_grad=True), torch.randn(co, requires_grad=True))
    ref, out = _reference(x, *params), lenet_fused.features(x, *params)
    assert out.shape == ref.shape and out.is_contiguous()
    _close(out, ref)
    g = torch.randn_like(ref)
    for got, want in zip(torch.autograd.grad(out, params, g), torch.autograd.grad(ref, params, g), strict=True):
        _close(got, want, 1e-4)
    with torch.no_grad():  # the prediction path keeps nothing for a backward
        assert torch.equal(lenet_fused.features(x, *params), out.detach())


@needs_kernels
def test_the_256_bit_build_computes_the_same(monkeypatch: pytest.MonkeyPatch) -> None:
    # what a CPU without AVX-512 runs (8 lanes, other shuffles and mask widths), checked on whatever CPU this is
    lib = lenet_fused._signatures(native.load(lenet_fused.SOURCE, {"VW": "8"}))
    assert lib.lanes() == 8
    monkeypatch.setitem(lenet_fused._state, "lib", lib)
    test_features_match_the_pytorch_layers_and_their_gradients(17, (33, 70))
    test_features_match_the_pytorch_layers_and_their_gradients(5, (10, 10))


@needs_kernels
def test_splitting_the_batch_over_threads_changes_no_bit() -> None:
    torch.manual_seed(3)
    model = LeNet5(4).to(memory_format=torch.channels_last)
    x = torch.randn(32, 1, 64, 64).contiguous(memory_format=torch.channels_last)
    conv1, conv2 = model.features[0], model.features[3]
    params = conv1.weight, conv1.bias, conv2.weight, conv2.bias
    saved = torch.get_num_threads()

    def kernel_outputs() -> list[torch.Tensor]:
        out, kept = lenet_fused.features_forward(x, *params, keep=True)
        g = torch.randn(out.shape, generator=torch.Generator().manual_seed(0))
        return [out, *kept, *lenet_fused.features_grads(x, conv1.weight, conv2.weight, kept, g)]

    try:
        torch.set_num_threads(1)
        one = kernel_outputs()
        torch.set_num_threads(3)
        three = kernel_outputs()
    finally:
        torch.set_num_threads(saved)
    assert all(torch.equal(a, b) for a, b in zip(one, three, strict=True))


@needs_kernels
def test_lenet_fused_and_pytorch_layers_agree_on_logits_and_gradients() -> None:
    torch.manual_seed(4)
    fused = LeNet5(5).to(memory_format=torch.channels_last)
    plain = LeNet5(5, fused=False).to(memory_format=torch.channels_last)
    plain.load_state_dict(fused.state_dict())
    x = torch.randn(16, 1, 64, 64).contiguous(memory_format=torch.channels_last)
    out_f, out_p = fused(x), plain(x)
    _close(out_f, out_p)
    out_f.square().sum().backward()
    out_p.square().sum().backward()
    for pf, pp in zip(fused.parameters(), plain.parameters(), strict=True):
        _close(pf.grad, pp.grad, 1e-4)
    with torch.inference_mode():
        _close(fused(x), plain(x))


def _toy(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    X = rng.integers(0, 60, (n, 64, 64)).astype(np.uint8)
    y0 = rng.integers(0, 2, n)
    X[y0 == 1, 4:20, 4:20] = 230
    return X, np.stack([y0, rng.integers(0, 2, n)], axis=1).astype(np.int8)


@needs_kernels
def test_training_on_kernels_and_on_pytorch_layers_selects_the_same_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(5)
    X, Y = _toy(192, rng)
    Xv, Yv = _toy(64, rng)
    cfg = {"epochs": 5, "lr": 1e-3, "seed": 2}
    fused = LeNetClassifier(**cfg).fit(X, Y, Xv, Yv)
    monkeypatch.setenv(native.DISABLE_ENV, "0")
    assert not lenet_fused.available()
    plain = LeNetClassifier(**cfg).fit(X, Y, Xv, Yv)
    # float rounding differs from the first step on; over a short training it must not change the outcome
    assert [round(h["val_f1"], 2) for h in fused.history] == [round(h["val_f1"], 2) for h in plain.history]
    np.testing.assert_allclose([h["loss"] for h in fused.history], [h["loss"] for h in plain.history], rtol=1e-3)
    np.testing.assert_allclose(fused.predict_proba(Xv), plain.predict_proba(Xv), atol=1e-3)


def test_switched_off_by_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert lenet_fused.describe() == ("C kernels" if lenet_fused.available() else
                                      f"PyTorch layers ({lenet_fused.unavailable_reason()})")
    monkeypatch.setenv(native.DISABLE_ENV, "0")
    assert not lenet_fused.available()
    assert lenet_fused.unavailable_reason() == f"turned off by {native.DISABLE_ENV}=0"
    assert runtime_of(LeNetClassifier) == f"PyTorch layers (turned off by {native.DISABLE_ENV}=0)"
    assert runtime_of(object()) is None  # plugins need not say
    x = torch.randn(2, 1, 64, 64)
    assert not lenet_fused.usable(x, torch.zeros(6, 1, 3, 3), torch.zeros(16, 6, 3, 3))
    assert LeNet5(3)(x).shape == (2, 3)  # the PyTorch layers run


@needs_kernels
def test_usable_only_for_what_the_kernels_take() -> None:
    w1, w2 = torch.zeros(6, 1, 3, 3), torch.zeros(16, 6, 3, 3)
    assert lenet_fused.usable(torch.zeros(2, 1, 64, 64), w1, w2)
    assert not lenet_fused.usable(torch.zeros(2, 1, 64, 64, dtype=torch.float64), w1, w2)
    assert not lenet_fused.usable(torch.zeros(2, 3, 64, 64), w1, w2)
    assert not lenet_fused.usable(torch.zeros(2, 1, 64, 64, requires_grad=True), w1, w2)  # saliency maps
    assert not lenet_fused.usable(torch.zeros(2, 1, 64, 2000), w1, w2)
    assert not lenet_fused.usable(torch.zeros(2, 1, 9, 64), w1, w2)  # conv2's pooled output would be empty
    assert not lenet_fused.usable(torch.zeros(2, 1, 64, 64), torch.zeros(8, 1, 3, 3), w2)
    assert not lenet_fused.usable(torch.zeros(2, 1, 64, 64), w1, torch.zeros(16, 6, 5, 5))
    assert not lenet_fused.usable(torch.zeros(2, 1, 64, 64), w1, torch.zeros(300, 6, 3, 3))


def test_export_sees_the_pytorch_layers() -> None:
    torch.manual_seed(6)
    model = LeNet5(3).eval()
    x = torch.randn(4, 1, 64, 64)
    exported = torch.export.export(model, (x,))  # how a trained LeNet-5 becomes a model file for audit-model
    assert any("conv2d" in str(n.target) for n in exported.graph.nodes)
    _close(exported.module()(x), model(x))


@needs_kernels
def test_a_pool_inherited_through_fork_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    # a forked child inherits the parent's pool object but none of its threads: using it would hang
    from concurrent.futures import ThreadPoolExecutor

    torch.manual_seed(7)
    x = torch.randn(16, 1, 64, 64)
    params = torch.randn(6, 1, 3, 3), torch.randn(6), torch.randn(16, 6, 3, 3), torch.randn(16)
    stale = ThreadPoolExecutor(max_workers=8)
    monkeypatch.setattr(lenet_fused, "_pool", (-1, stale))  # made by "another process"
    saved = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        out = lenet_fused.features(x, *params)
    finally:
        torch.set_num_threads(saved)
        stale.shutdown()
    assert lenet_fused._pool[0] == os.getpid() and lenet_fused._pool[1] is not stale
    _close(out, _reference(x, *params))
