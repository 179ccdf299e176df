"""LeNet-5 matches Table 3, learns, honours not-coded labels, and selects on validation F1."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from auditkit.classifiers.lenet import LeNet5, LeNetClassifier, LeNetConfig, positive_weights, to_tensor
from auditkit.errors import AuditkitError


def test_table3_shapes_and_parameters() -> None:
    model = LeNet5(12)
    x = torch.zeros(2, 1, 64, 64)
    shapes = []
    for layer in list(model.features) + list(model.head):
        x = layer(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes[:6] == [(6, 62, 62), (6, 62, 62), (6, 31, 31), (16, 29, 29), (16, 29, 29), (16, 14, 14)]
    assert shapes[6] == (3136,) and shapes[7] == (120,) and shapes[9] == (84,) and shapes[-1] == (12,)
    assert sum(p.numel() for p in model.parameters()) == 388_564
    assert sum(p.numel() for p in LeNet5(5).parameters()) == 388_564 - 7 * 85


def _toy(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    # AU 0 present <=> a bright square in the top-left; AU 1 is noise
    X = rng.integers(0, 60, (n, 64, 64)).astype(np.uint8)
    y0 = rng.integers(0, 2, n)
    X[y0 == 1, 4:20, 4:20] = 230
    Y = np.stack([y0, rng.integers(0, 2, n)], axis=1).astype(np.int8)
    return X, Y


@pytest.mark.slow
def test_learns_a_visible_au() -> None:
    rng = np.random.default_rng(0)
    X, Y = _toy(256, rng)
    Xv, Yv = _toy(64, rng)
    clf = LeNetClassifier(epochs=6, lr=1e-3, seed=0).fit(X, Y, Xv, Yv)
    proba = clf.predict_proba(Xv)
    assert proba.shape == (64, 2) and proba.dtype == np.float32
    assert ((proba[:, 0] >= 0.5) == (Yv[:, 0] == 1)).mean() > 0.9
    losses = [h["loss"] for h in clf.history]
    assert losses[-1] < losses[0]


@pytest.mark.slow
def test_not_coded_labels_do_not_train() -> None:
    rng = np.random.default_rng(1)
    X, Y = _toy(128, rng)
    Y[:, 1] = -1  # AU 1 never coded: its output layer row must not move
    clf = LeNetClassifier(seed=3, epochs=2, lr=1e-3)
    torch.manual_seed(3)
    initial = LeNet5(2).head[-1].weight[1].detach().clone()
    clf.fit(X, Y, X[:32], Y[:32])
    assert torch.equal(clf.model.head[-1].weight[1].detach(), initial)


def test_best_validation_epoch_is_kept_and_seeded() -> None:
    rng = np.random.default_rng(2)
    X, Y = _toy(128, rng)
    a = LeNetClassifier(epochs=3, lr=1e-3, seed=5).fit(X, Y, X[:32], Y[:32])
    b = LeNetClassifier(epochs=3, lr=1e-3, seed=5).fit(X, Y, X[:32], Y[:32])
    np.testing.assert_array_equal(a.predict_proba(X[:8]), b.predict_proba(X[:8]))
    assert len(a.history) == 3


def test_patience_stops_early_and_errors() -> None:
    rng = np.random.default_rng(3)
    X, Y = _toy(64, rng)
    Y[:, 0] = 0  # nothing to find: validation F1 never improves after the first epoch
    clf = LeNetClassifier(epochs=20, patience=2, seed=0).fit(X, Y, X[:16], Y[:16])
    assert len(clf.history) == 3
    with pytest.raises(ValueError, match="64x64"):
        LeNetClassifier().fit(np.zeros((4, 32, 32), np.uint8), Y[:4], X[:2], Y[:2])
    with pytest.raises(RuntimeError, match="before fit"):
        LeNetClassifier().predict_proba(X)


def test_positive_weights() -> None:
    y = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, -1.0], [0.0, 0.0]])
    w = positive_weights(y, y >= 0)
    assert w.tolist() == [3.0, 3.0]  # no positives: ratio against one
    many = torch.zeros(30, 1)
    many[0] = 1
    assert positive_weights(many, many >= 0).item() == 20.0  # 29 negatives per positive, capped


def test_unknown_training_settings_are_refused() -> None:
    import pytest

    from auditkit.plugins import make_classifier

    with pytest.raises(AuditkitError, match="classifier 'lenet5': unknown setting 'epoch' \\(valid: seed, threads, "
                                            "epochs, lr"):
        make_classifier("lenet5", seed=0, epoch=3)
    clf = make_classifier("lenet5", seed=1, threads=1, epochs=2, patience=None, lr=None)
    assert clf.config == LeNetConfig(seed=1, threads=1, epochs=2)  # None: the paper's value


def test_lenet_params_round_trip_and_resolve_in_fit() -> None:
    clf = LeNetClassifier(seed=4, epochs=3)
    assert clf.get_params() == {"seed": 4, "threads": None, "epochs": 3, "lr": 5e-5, "betas": (0.5, 0.999),
                                "batch_size": 64, "patience": None, "balanced": False}
    assert LeNetClassifier(**clf.get_params()).get_params() == clf.get_params()
    assert clf.set_params(epochs=7, balanced=True) is clf
    assert clf.get_params()["epochs"] == 7 and clf.config.epochs == 7 and clf.config.balanced
    with pytest.raises(AuditkitError, match="LeNetClassifier.set_params: no setting 'epoch'"):
        clf.set_params(epoch=2)


@pytest.mark.parametrize("size", [62, 29])  # both pooling layers: even input, and odd input whose last row is dropped
def test_fast_pooling_is_average_pooling_forward_and_backward(size: int) -> None:
    from auditkit.classifiers.lenet import AvgPool2x2

    torch.manual_seed(0)
    z = torch.randn(3, 6, size, size).contiguous(memory_format=torch.channels_last).requires_grad_()
    grad = torch.randn(3, 6, size // 2, size // 2)
    expected = torch.nn.functional.avg_pool2d(z, 2)
    (want,) = torch.autograd.grad(expected, z, grad)
    got = AvgPool2x2(6)(z)
    (got_grad,) = torch.autograd.grad(got, z, grad)
    assert got.shape == expected.shape
    assert torch.allclose(got, expected, atol=1e-6) and torch.allclose(got_grad, want, atol=1e-6)


def test_state_dict_is_table3s_whatever_the_pooling_module() -> None:
    # model files saved before the faster pooling load unchanged, and vice versa: the pool weights are not state
    from torch import nn

    old = LeNet5(12)
    old.features[2], old.features[5] = nn.AvgPool2d(2), nn.AvgPool2d(2)
    new = LeNet5(12)
    assert list(new.state_dict()) == list(old.state_dict())
    new.load_state_dict(old.state_dict())
    x = torch.randn(4, 1, 64, 64)
    assert torch.allclose(new(x), old(x), atol=1e-5)


def test_predictions_do_not_depend_on_the_inference_chunk() -> None:
    import auditkit.classifiers.lenet as lenet

    rng = np.random.default_rng(4)
    X, Y = _toy(150, rng)
    clf = LeNetClassifier(epochs=1, lr=1e-3, seed=0).fit(X, Y, X[:40], Y[:40])
    chunked = clf.predict_proba(X)  # 64 at a time: three chunks, the last partial
    with torch.inference_mode():
        whole = torch.sigmoid(clf.model.eval()(lenet.to_tensor(X))).numpy()
    assert chunked.shape == (150, 2)
    assert np.allclose(chunked, whole, atol=1e-5)
    assert clf.predict_proba(X[:0]).shape == (0, 2)


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_inputs_are_standardized_per_image_and_left_unchanged(dtype: type) -> None:
    rng = np.random.default_rng(8)
    X = (rng.random((3, 64, 64)) * 255).astype(dtype)
    before = X.copy()
    x = to_tensor(X)
    np.testing.assert_array_equal(X, before)  # a float32 array shares memory with torch: it must not be standardized
    assert x.shape == (3, 1, 64, 64) and x.dtype == torch.float32 and x.is_contiguous(memory_format=torch.channels_last)
    ref = torch.as_tensor(before, dtype=torch.float32)[:, None]
    ref = (ref - ref.mean((2, 3), keepdim=True)) / (ref.std((2, 3), keepdim=True) + 1e-3)
    torch.testing.assert_close(x, ref, rtol=1e-5, atol=1e-5)
