"""Preprocessing (grayscale histogram equalization, resize) and faceswap-style augmentation, batched in torch."""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from auditkit.normalizers.histeq import equalize, grey_background


def preprocess(faces: np.ndarray, size: int, region: str = "image", background: str = "keep") -> torch.Tensor:
    """(n, H, W) uint8 faces -> (n, 1, size, size) float32 in [0, 1], histogram-equalized (the paper's preprocessing;
    `region="face"`: by the inner face's histogram); `background="grey"`: mid-grey outside the whole face."""
    eq = equalize(faces, region)
    if eq.shape[1:] != (size, size):
        eq = np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in eq]) if len(eq) else \
            np.zeros((0, size, size), np.uint8)
    x = eq.astype(np.float32) / np.float32(255.0)
    if background == "grey":
        x = grey_background(x, grey=0.5)
    return torch.from_numpy(np.ascontiguousarray(x)).unsqueeze(1)


def random_affine(n: int, gen: torch.Generator, rotation: float = 10.0, zoom: float = 0.05, shift: float = 0.05,
                  flip: float = 0.4) -> torch.Tensor:
    """(n, 2, 3) sampling matrices: rotation (degrees), zoom and shift (fractions), horizontal flip probability."""
    u = torch.rand(n, 4, generator=gen) * 2 - 1
    angle = torch.deg2rad(u[:, 0] * rotation)
    scale = 1 + u[:, 1] * zoom
    sx = torch.where(torch.rand(n, generator=gen) < flip, -1.0, 1.0)
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = torch.cos(angle) / scale * sx
    theta[:, 0, 1] = -torch.sin(angle) / scale
    theta[:, 1, 0] = torch.sin(angle) / scale * sx
    theta[:, 1, 1] = torch.cos(angle) / scale
    theta[:, 0, 2] = u[:, 2] * shift * 2
    theta[:, 1, 2] = u[:, 3] * shift * 2
    return theta


def augment(
    x: torch.Tensor, gen: torch.Generator, warp: float = 0.04, grid: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """(warped input, target): both share a random affine transform; only the input gets a random grid warp.

    The random draws come from `gen` on the CPU whatever device `x` is on, so a run's augmentations do not depend on
    the device; the resampling runs where `x` is (on a GPU, the CPU would otherwise bound the paper model's step).
    """
    n, _, h, w = x.shape
    base = F.affine_grid(random_affine(n, gen).to(x.device), list(x.shape), align_corners=False)
    target = F.grid_sample(x, base, mode="bilinear", padding_mode="border", align_corners=False)
    # coarse random displacements, smoothly interpolated: the "random warp" of the faceswap trainer
    coarse = torch.randn(n, 2, grid, grid, generator=gen) * warp
    if warp == 0:
        # no displacement: the input is the target (the draw above still happens, so the stream of random numbers,
        # and with it every later batch, is the same as when the warp was computed as a zero field)
        return target.clone(), target
    coarse[:, :, [0, -1], :] = 0
    coarse[:, :, :, [0, -1]] = 0
    field = F.interpolate(coarse.to(x.device), size=(h, w), mode="bicubic", align_corners=True).permute(0, 2, 3, 1)
    warped = F.grid_sample(x, base + field, mode="bilinear", padding_mode="border", align_corners=False)
    return warped, target
