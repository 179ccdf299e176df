"""LeNet-5 AU classifier exactly as the paper's Table 3, trained with masked binary cross-entropy."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from auditkit.classifiers import lenet_fused
from auditkit.contract import Classifier
from auditkit.process_state import preserved
from auditkit.stats.metrics import macro_f1

# bump when a change here can change a trained model's predictions
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1
INPUT_SIZE = 64
INFER_BATCH = 64
# training images per second on one core, per-epoch validation included (`auditkit plan`'s rate): measured by
# `python benchmarks/bench_lenet.py --threads 1` ("fit_now", benchmarks/README.md)
IMAGES_PER_CORE_S = 7180.0


@dataclass(frozen=True)
class LeNetConfig:
    """Training settings; defaults are the paper's (Adam lr 5e-5, betas 0.5/0.999, 50 epochs)."""

    epochs: int = 50
    lr: float = 5e-5
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 64
    patience: int | None = None  # stop after this many epochs without a better validation F1 (None: never)
    # Weight positives by each AU's negative/positive ratio in the training set (capped): rare AUs are otherwise
    # never predicted in short CPU-sized trainings. Off in the paper preset, which used plain BCE.
    balanced: bool = False
    seed: int = 0
    threads: int | None = None  # torch CPU threads (None: leave torch's default)


class AvgPool2x2(nn.Module):
    """2x2 average pooling, stride 2 (floor), as a fixed depthwise convolution.

    Same arithmetic as nn.AvgPool2d(2), but on CPU with channels-last tensors oneDNN's depthwise convolution runs its
    forward and backward several times faster than the pooling kernels (benchmarks/bench_lenet.py).
    The weight is a non-persistent buffer, so state dicts are those of nn.AvgPool2d: saved models load either way.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.register_buffer("weight", torch.full((channels, 1, 2, 2), 0.25), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, C, H, W) -> (n, C, H // 2, W // 2)."""
        return nn.functional.conv2d(x, self.weight.to(x.dtype), stride=2, groups=self.channels)


class LeNet5(nn.Module):
    """Table 3: 64x64x1 -> conv6 3x3 -> avgpool -> conv16 3x3 -> avgpool -> 3136 -> 120 -> 84 -> n_aus (sigmoid)."""

    def __init__(self, n_aus: int = 12, fused: bool = True) -> None:
        super().__init__()
        # use lenet_fused's C kernels where they are available (False: PyTorch layers only, e.g. to torch.jit.script)
        self.fused = fused
        # in-place ReLU: the convolutions' backward needs their inputs, not their outputs, so nothing is lost
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 3), nn.ReLU(inplace=True), AvgPool2x2(6),
            nn.Conv2d(6, 16, 3), nn.ReLU(inplace=True), AvgPool2x2(16),
        )
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 14 * 14, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, n_aus),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (n, n_aus); apply a sigmoid for probabilities."""
        conv1, conv2 = self.features[0], self.features[3]
        # tracing and compiling see the PyTorch layers (the C kernels are opaque calls to both), as does autocast
        plain = torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.is_autocast_enabled("cpu")
        if self.fused and not plain and lenet_fused.usable(x, conv1.weight, conv2.weight):
            # same layers, fewer passes over memory: C kernels run the convolutions image by image, in cache
            return self.head(lenet_fused.features(x, conv1.weight, conv1.bias, conv2.weight, conv2.bias))
        return self.head(self.features(x))


def to_tensor(X: np.ndarray) -> torch.Tensor:
    """(n, 64, 64) faces -> (n, 1, 64, 64) float32, each image standardized, channels-last (faster CPU convolutions)."""
    X = np.asarray(X)
    # always a new tensor (the standardization below is in place: a float32 input must not be changed), one row per
    # image: in-place arithmetic and reductions along rows, since out-of-place temporaries of a whole training set
    # and torch.std_mean cost ~10x more here
    x = torch.empty(len(X), int(np.prod(X.shape[1:])))
    x.copy_(torch.as_tensor(X).reshape(x.shape))
    x.sub_(x.mean(dim=1, keepdim=True))
    # the sample standard deviation (n - 1) as the norm of the centred rows
    std = torch.linalg.vector_norm(x, dim=1, keepdim=True).div_(max(1, x.shape[1] - 1) ** 0.5)
    x.div_(std.add_(1e-3))
    return x.reshape(len(X), 1, *X.shape[1:]).contiguous(memory_format=torch.channels_last)


def positive_weights(y: torch.Tensor, mask: torch.Tensor, cap: float = 20.0) -> torch.Tensor:
    """Per-AU negatives/positives ratio among coded training labels, clipped to [1, cap]."""
    pos = ((y == 1) & mask).sum(0).float()
    neg = ((y == 0) & mask).sum(0).float()
    return (neg / pos.clamp(min=1.0)).clamp(min=1.0, max=cap)


def train_step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor,
               pos_weight: torch.Tensor | None = None) -> float:
    """One optimizer step on a batch: masked BCE summed over coded labels / their count; returns the loss."""
    # not-coded labels (-1) get zero weight, rather than counting as negatives
    loss = nn.functional.binary_cross_entropy_with_logits(
        model(x), y.clamp(min=0), weight=mask.float(), pos_weight=pos_weight, reduction="sum") / mask.sum()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.item()


class LeNetClassifier(Classifier):
    """LeNet-5 as an auditkit classifier: masked BCE, Adam, keeps the epoch with the best validation macro F1.

    The keywords are stored as given (scikit-learn's rule) and resolved into a `LeNetConfig` in `fit`; a training
    setting left None takes the paper's value (LeNetConfig's default), as the runner passes every setting it has.
    """

    name = "lenet5"
    cache_version = CACHE_VERSION  # in every audit identity: an upgrade never resumes trainings made by older code
    input_size = INPUT_SIZE  # the runner prepares faces at this size
    runtime = staticmethod(lenet_fused.describe)  # recorded in run.json and on every results row
    runtime_note = staticmethod(lenet_fused.fallback_note)  # printed once per audit
    model: LeNet5 | None = None  # set by fit

    def __init__(self, seed: int = 0, threads: int | None = None, epochs: int | None = 50, lr: float | None = 5e-5,
                 betas: tuple[float, float] | None = (0.5, 0.999), batch_size: int | None = 64,
                 patience: int | None = None, balanced: bool | None = False) -> None:
        self.seed, self.threads, self.epochs, self.lr, self.betas = seed, threads, epochs, lr, betas
        self.batch_size, self.patience, self.balanced = batch_size, patience, balanced

    @property
    def config(self) -> LeNetConfig:
        """The training settings the keywords resolve to (None: LeNetConfig's default)."""
        given = {k: v for k, v in self.get_params().items() if v is not None}
        if "betas" in given:
            given["betas"] = tuple(given["betas"])
        return LeNetConfig(**given)

    def train_cost(self, images: int) -> dict:
        """One training's cost on `images` faces per epoch, every epoch run (early stopping ends many sooner)."""
        epochs = self.config.epochs
        return {"what": "LeNet-5 trainings", "count": 1, "cpu_core_s": images * epochs / IMAGES_PER_CORE_S,
                "gpu_s": None, "detail": f"{epochs} epochs at most of ~{images:,} images",
                "source": f"{IMAGES_PER_CORE_S:,.0f} images/s per core (bench_lenet.py --threads 1)"}

    def fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> LeNetClassifier:
        """Train for config.epochs (or until patience runs out) and restore the best-validation weights.

        The global torch seed and thread count it sets (the model's initial weights come from the global stream)
        are the caller's again afterwards."""
        with preserved():
            return self._fit(X, Y, X_val, Y_val)

    def _fit(self, X: np.ndarray, Y: np.ndarray, X_val: np.ndarray, Y_val: np.ndarray) -> LeNetClassifier:
        cfg = self.config
        if X.shape[1:] != (INPUT_SIZE, INPUT_SIZE):
            raise ValueError(f"LeNet-5 takes {INPUT_SIZE}x{INPUT_SIZE} faces, got {X.shape[1:]}")
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        gen = torch.Generator().manual_seed(cfg.seed)
        torch.manual_seed(cfg.seed)
        n_aus = Y.shape[1]
        model = LeNet5(n_aus).to(memory_format=torch.channels_last)
        # fused: one kernel for all parameters instead of ~10 small ops each (a tenth of a step at batch 64)
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=cfg.betas, fused=True)
        x, y = to_tensor(X), torch.as_tensor(np.asarray(Y, dtype=np.float32))
        x_val = to_tensor(X_val)  # once, not at every epoch
        mask = y >= 0
        pos_weight = positive_weights(y, mask) if cfg.balanced else None
        best_f1, best_state, stale = -1.0, None, 0
        self.history = []
        for epoch in range(cfg.epochs):
            model.train()
            order = torch.randperm(len(x), generator=gen)
            total = 0.0
            for start in range(0, len(x), cfg.batch_size):
                idx = order[start : start + cfg.batch_size]
                if not mask[idx].any():
                    continue
                total += train_step(model, opt, x[idx], y[idx], mask[idx], pos_weight) * len(idx)
            self.model = model
            val_f1 = macro_f1(Y_val, self._proba(x_val))
            self.history.append({"epoch": epoch + 1, "loss": total / max(1, len(x)), "val_f1": val_f1})
            if val_f1 > best_f1:
                best_f1, best_state, stale = val_f1, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
                if cfg.patience is not None and stale >= cfg.patience:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        self.model = model
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Sigmoid outputs (n, n_aus) as float32."""
        if self.model is None:
            raise RuntimeError("LeNetClassifier.predict_proba called before fit")
        if len(X) == 0:
            return np.zeros((0, self.model.head[-1].out_features), np.float32)
        return self._proba(to_tensor(X))

    @torch.inference_mode()
    def _proba(self, x: torch.Tensor) -> np.ndarray:
        self.model.eval()
        # small chunks keep the activations in cache (measured against 512 at a time: benchmarks/README.md, LeNet-5)
        out = [torch.sigmoid(self.model(x[i : i + INFER_BATCH])) for i in range(0, len(x), INFER_BATCH)]
        return torch.cat(out).numpy()
