"""Per-person BatchNorm statistics: a DeepFN with BatchNorm normalizes a person's features by that person's frames.

Running statistics average over everyone seen in training (template and subject batches alike), so at normalization
they fit nobody: the lite model's output then fades to a blurred average face. Taking each BatchNorm layer's mean and
variance from the person's own frames instead (as training took them from the person's batch) keeps the template's
features sharp; like the mean code of recentering, it is one forward pass over the person's frames, and each frame
is then normalized on its own (benchmarks/README.md, "DeepFN against the ceiling").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from auditkit.normalizers.deepfn.model import DeepFN
from auditkit.normalizers.deepfn.train import to_device

MAX_STAT_FRAMES = 1024  # a seeded sample of a person's frames beyond this: the statistics are already steady


@dataclass
class PersonStats:
    """One person's mean shared code and the (mean, biased variance) of each BatchNorm layer their pass went through,
    by the layer's index in `batch_norms(model)`."""

    code: torch.Tensor
    norms: dict[int, tuple[torch.Tensor, torch.Tensor]]


def batch_norms(model: nn.Module) -> list[nn.BatchNorm2d]:
    """The model's BatchNorm layers, in module order."""
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


@torch.no_grad()
def person_stats(model: DeepFN, faces: np.ndarray, target: torch.Tensor | None = None, seed: int = 0) -> PersonStats:
    """Statistics of one person's (n, H, W) uint8 faces: the encoder's from the faces, D^y's from their codes moved to
    `target` (code - mean code + target; zeros: a centered model), all in one pass in training mode."""
    if len(faces) == 0:
        raise ValueError("person_stats needs at least one face")
    if len(faces) > MAX_STAT_FRAMES:
        faces = faces[np.sort(np.random.default_rng(seed).choice(len(faces), MAX_STAT_FRAMES, replace=False))]
    dev = next(model.parameters()).device
    norms = batch_norms(model)
    seen: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def record(i: int):
        def hook(_: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].float()  # exactly what training mode normalizes by: the batch's mean and biased variance
            seen[i] = (x.mean((0, 2, 3)).cpu(), x.var((0, 2, 3), unbiased=False).cpu())
        return hook

    saved = [(m.running_mean.clone(), m.running_var.clone(), m.num_batches_tracked.clone()) for m in norms]
    hooks = [m.register_forward_pre_hook(record(i)) for i, m in enumerate(norms)]
    was_training = model.training
    try:
        model.train()
        z = model.encoder.embed(to_device(model.prepare(faces), dev))
        code = z.mean(0)
        shift = -code if target is None else target.to(dev) - code
        model.template_decoder(model.encoder.expand(z + shift))
    finally:
        for h in hooks:
            h.remove()
        for m, (mean, var, count) in zip(norms, saved, strict=True):  # training mode moved the running statistics
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
            m.num_batches_tracked.copy_(count)
        model.train(was_training)
    return PersonStats(code=code.float().cpu(), norms=seen)


@contextmanager
def using_stats(model: DeepFN, stats: PersonStats | None) -> Iterator[DeepFN]:
    """The model with its BatchNorm layers reading `stats` (None: left as trained) until the block ends."""
    if stats is None:
        yield model
        return
    norms = batch_norms(model)
    saved = [(m.running_mean.clone(), m.running_var.clone()) for m in norms]
    try:
        for i, (mean, var) in stats.norms.items():
            norms[i].running_mean.copy_(mean)
            norms[i].running_var.copy_(var)
        yield model
    finally:
        for m, (mean, var) in zip(norms, saved, strict=True):
            m.running_mean.copy_(mean)
            m.running_var.copy_(var)
