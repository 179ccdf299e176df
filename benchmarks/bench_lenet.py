"""Benchmark: LeNet-5 training throughput (images/s) on CPU against the matmul peak, before and after the fused C
kernels.

Three implementations, all rebuilt here in the same process so they run on the same machine in the same run:
"before" is the code up to commit ae99db1 (nn.AvgPool2d pooling, out-of-place ReLU, validation predicted 512 images
at a time); "torch_layers" is the first optimization round (a05d49b: pooling as a depthwise convolution, in-place
ReLU, the
PyTorch path auditkit still runs where no C compiler is found, AUDITKIT_NATIVE=0); "now" is auditkit's LeNet-5 on
the fused C kernels (lenet_fused.py). Also measured, to record why they are not used: several models trained as one
grouped-convolution model (the batching once proposed) and bf16 autocast.

With --workers N it also measures N single-thread processes fitting at once (the audit's configuration: one worker
per core) for all three implementations: the images/s of all workers together, whose fraction of peak is against the
matmul peak on --threads threads (so run it with --threads N).

Run: python benchmarks/bench_lenet.py [--images 1200] [--epochs 3] [--threads N] [--models 10] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import time
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

import auditkit.classifiers.lenet as lenet
from auditkit import native
from auditkit.classifiers import lenet_fused
from auditkit.classifiers.lenet import LeNet5, LeNetClassifier

N_AUS = 12
BATCH = 64


def training_flop_per_image() -> float:
    """FLOP of one training step per 64x64 image: 6 x the forward multiply-adds (2 forward, 4 backward)."""
    macs = 62 * 62 * 6 * 9 + 29 * 29 * 16 * 6 * 9 + 16 * 14 * 14 * 120 + 120 * 84 + 84 * N_AUS
    return 6.0 * macs


def matmul_peak_gflops(seconds: float = 2.0) -> float:
    """Best GFLOP/s of a 2048x2048 fp32 matmul on the current threads (the yardstick for 'fraction of peak')."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    a @ b
    best, end = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        start = time.perf_counter()
        a @ b
        best = max(best, 2 * 2048**3 / (time.perf_counter() - start) / 1e9)
    return best


class BeforeLeNet5(LeNet5):
    """LeNet-5 as it was built before the C kernels: nn.AvgPool2d and out-of-place ReLU (same parameters, same
    arithmetic)."""

    def __init__(self, n_aus: int = N_AUS) -> None:
        super().__init__(n_aus, fused=False)
        self.features[1], self.features[4] = nn.ReLU(), nn.ReLU()
        self.features[2], self.features[5] = nn.AvgPool2d(2), nn.AvgPool2d(2)


@contextlib.contextmanager
def before_implementation() -> Iterator[None]:
    """Within this block LeNetClassifier builds BeforeLeNet5 and predicts 512 images per chunk, as before the C
    kernels."""
    saved = lenet.LeNet5, lenet.INFER_BATCH
    lenet.LeNet5, lenet.INFER_BATCH = BeforeLeNet5, 512
    try:
        yield
    finally:
        lenet.LeNet5, lenet.INFER_BATCH = saved


@contextlib.contextmanager
def torch_layers() -> Iterator[None]:
    """Within this block LeNet-5 runs its PyTorch layers (the first optimization round), as where no C compiler is
    found."""
    saved = os.environ.get(native.DISABLE_ENV)
    os.environ[native.DISABLE_ENV] = "0"
    try:
        yield
    finally:
        if saved is None:
            del os.environ[native.DISABLE_ENV]
        else:
            os.environ[native.DISABLE_ENV] = saved


def best_rate(step, images_per_step: int, steps: int, rounds: int = 5) -> float:
    """Images/s of the fastest of several rounds of `steps` calls (this VM's timing noise is large; the best round
    is the reproducible figure)."""
    for _ in range(3):
        step()
    best = 0.0
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        best = max(best, images_per_step * steps / (time.perf_counter() - start))
    return best


def raw_step(model: nn.Module, bf16: bool = False):
    """One Adam step at batch 64 on random 64x64 channels-last inputs, as a closure."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(BATCH, 1, 64, 64).contiguous(memory_format=torch.channels_last)
    y = (torch.rand(BATCH, N_AUS) > 0.8).float()

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = nn.functional.binary_cross_entropy_with_logits(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def grouped_step(models: int):
    """One Adam step of `models` LeNet-5s trained as one: convolutions grouped by model, heads as batched matmuls."""
    nets = [LeNet5(N_AUS) for _ in range(models)]
    opt = torch.optim.Adam([p for n in nets for p in n.parameters()], lr=1e-3)
    x = torch.randn(BATCH, models, 64, 64).contiguous(memory_format=torch.channels_last)
    y = (torch.rand(models, BATCH, N_AUS) > 0.8).float()
    f = nn.functional

    def stacked(layer: int, part: str, cat: bool) -> torch.Tensor:
        tensors = [getattr(n.features[layer] if layer < 10 else n.head[layer - 10], part) for n in nets]
        return torch.cat(tensors) if cat else torch.stack(tensors)

    def step() -> None:
        h = f.avg_pool2d(f.relu(f.conv2d(x, stacked(0, "weight", True), stacked(0, "bias", True), groups=models)), 2)
        h = f.avg_pool2d(f.relu(f.conv2d(h, stacked(3, "weight", True), stacked(3, "bias", True), groups=models)), 2)
        h = h.reshape(BATCH, models, -1).transpose(0, 1)
        for layer, last in ((11, False), (13, False), (15, True)):
            h = torch.baddbmm(
                stacked(layer, "bias", False)[:, None], h, stacked(layer, "weight", False).transpose(1, 2)
            )
            h = h if last else f.relu(h)
        loss = f.binary_cross_entropy_with_logits(h, y, reduction="sum") / BATCH
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return step


def fit_rates(X: np.ndarray, Y: np.ndarray, epochs: int, rounds: int = 3) -> dict[str, float]:
    """Training images/s of LeNetClassifier.fit for each implementation, per-epoch validation on 600 images included:
    rounds alternate between the implementations (so a drift in this VM's speed touches all alike), best of each."""
    best = dict.fromkeys(IMPLEMENTATIONS, 0.0)
    for _ in range(rounds):
        for name in IMPLEMENTATIONS:
            with _implementation(name):
                start = time.perf_counter()
                LeNetClassifier(epochs=epochs, lr=1e-3, balanced=True).fit(X, Y, X[:600], Y[:600])
                best[name] = max(best[name], len(X) * epochs / (time.perf_counter() - start))
    return best


IMPLEMENTATIONS = ("before", "torch_layers", "now")


def _implementation(name: str) -> contextlib.AbstractContextManager:
    """The context that makes LeNetClassifier build the named implementation: before, torch_layers or now."""
    return {"before": before_implementation, "torch_layers": torch_layers, "now": contextlib.nullcontext}[name]()


def _worker_fit(name: str, images: int, epochs: int, start_at: float) -> tuple[float, float]:
    """In a spawned worker on one thread: one warm-up fit, then wait for the common start and time one fit."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (images, 64, 64), dtype=np.uint8)
    Y = (rng.random((images, N_AUS)) > 0.8).astype(np.int8)
    with _implementation(name):
        LeNetClassifier(epochs=1, lr=1e-3, balanced=True).fit(X[:256], Y[:256], X[:64], Y[:64])
        while time.time() < start_at:
            time.sleep(0.01)
        start = time.time()
        LeNetClassifier(epochs=epochs, lr=1e-3, balanced=True).fit(X, Y, X[:600], Y[:600])
        return start, time.time()


def workers_rates(workers: int, images: int, epochs: int, rounds: int = 2) -> dict[str, float]:
    """Training images/s of `workers` single-thread processes fitting at once, as an audit's workers do, for each
    implementation (rounds alternate between them; best round of each)."""
    import multiprocessing

    best = dict.fromkeys(IMPLEMENTATIONS, 0.0)
    with multiprocessing.get_context("spawn").Pool(workers) as pool:
        for _ in range(rounds):
            for name in IMPLEMENTATIONS:
                start_at = time.time() + 15  # every worker warmed up and waiting by then
                spans = pool.starmap(_worker_fit, [(name, images, epochs, start_at)] * workers)
                wall = max(end for _, end in spans) - min(start for start, _ in spans)
                best[name] = max(best[name], workers * images * epochs / wall)
    return best


def main() -> None:
    """Print throughput before/after, grouped and bf16 variants, and each as a fraction of the matmul peak, as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1200, help="training images (default: 4 subjects x 300 frames)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--models", type=int, default=10, help="models in the grouped-convolution variant")
    parser.add_argument("--workers", type=int, default=0,
                        help="also measure N single-thread processes fitting at once (an audit's --jobs N)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.images, 64, 64), dtype=np.uint8)
    Y = (rng.random((args.images, N_AUS)) > 0.8).astype(np.int8)
    peak = matmul_peak_gflops()
    flop = training_flop_per_image()
    steps = max(1, args.images // BATCH)

    def cl(model: nn.Module) -> nn.Module:
        return model.to(memory_format=torch.channels_last)

    if not lenet_fused.available():
        raise SystemExit(f"the fused kernels are not available here: {lenet_fused.unavailable_reason()}")
    rates = {
        "raw_before": best_rate(raw_step(cl(BeforeLeNet5())), BATCH, steps),
        "raw_torch_layers": best_rate(raw_step(cl(LeNet5(N_AUS, fused=False))), BATCH, steps),
        "raw_now": best_rate(raw_step(cl(LeNet5(N_AUS))), BATCH, steps),
        "raw_torch_layers_bf16_autocast": best_rate(raw_step(cl(LeNet5(N_AUS, fused=False)), bf16=True), BATCH, steps),
        f"raw_grouped_{args.models}_models": best_rate(grouped_step(args.models), BATCH * args.models,
                                                       max(1, steps // args.models)),
    }
    rates.update({f"fit_{name}": rate for name, rate in fit_rates(X, Y, args.epochs).items()})
    if args.workers:
        for name, rate in workers_rates(args.workers, args.images, args.epochs).items():
            rates[f"fit_{name}_{args.workers}_workers_1_thread"] = rate
    print(json.dumps({
        "benchmark": "lenet5-training", "torch": torch.__version__, "threads": args.threads, "images": args.images,
        "epochs": args.epochs, "matmul_peak_gflops": round(peak, 1), "training_mflop_per_image": round(flop / 1e6, 2),
        "images_per_s": {k: round(v) for k, v in rates.items()},
        "fraction_of_matmul_peak": {k: round(v * flop / 1e9 / peak, 3) for k, v in rates.items()},
        "speedup_fit_now_vs_before": round(rates["fit_now"] / rates["fit_before"], 2),
        "speedup_raw_now_vs_before": round(rates["raw_now"] / rates["raw_before"], 2),
        "speedup_fit_now_vs_torch_layers": round(rates["fit_now"] / rates["fit_torch_layers"], 2),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
