"""Benchmark: LeNet-5 training throughput (images/s) on CPU, channels-last (what auditkit uses) vs contiguous.

Run: python benchmarks/bench_lenet.py [--images 1200] [--epochs 3] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time

import numpy as np
import torch
from torch import nn

from auditkit.classifiers.lenet import LeNet5, LeNetClassifier, LeNetConfig


def raw_throughput(images: int, epochs: int, channels_last: bool) -> float:
    """Images/s of plain Adam steps at batch 64 on random 64x64 inputs."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = LeNet5(12).to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(images, 1, 64, 64).contiguous(memory_format=fmt)
    y = (torch.rand(images, 12) > 0.8).float()
    start = time.perf_counter()
    for _ in range(epochs):
        for i in range(0, images, 64):
            loss = nn.functional.binary_cross_entropy_with_logits(model(x[i : i + 64]), y[i : i + 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return images * epochs / (time.perf_counter() - start)


def main() -> None:
    """Print raw and end-to-end (fit with validation each epoch) training throughput as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=int, default=1200, help="training images (default: 4 subjects x 300 frames)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (args.images, 64, 64), dtype=np.uint8)
    Y = (rng.random((args.images, 12)) > 0.8).astype(np.int8)
    LeNetClassifier(LeNetConfig(epochs=1)).fit(X[:128], Y[:128], X[:64], Y[:64])  # warm-up, not timed
    start = time.perf_counter()
    LeNetClassifier(LeNetConfig(epochs=args.epochs, lr=1e-3, balanced=True)).fit(X, Y, X[:600], Y[:600])
    fit = args.images * args.epochs / (time.perf_counter() - start)
    print(json.dumps({
        "benchmark": "lenet5-training", "torch": torch.__version__, "threads": args.threads, "images": args.images,
        "epochs": args.epochs,
        "raw_images_per_s_channels_last": round(raw_throughput(args.images, args.epochs, True)),
        "raw_images_per_s_contiguous": round(raw_throughput(args.images, args.epochs, False)),
        "fit_images_per_s_incl_validation": round(fit),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
