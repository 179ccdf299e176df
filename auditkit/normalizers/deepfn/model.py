"""Encoder (Table 1), decoder (Table 2), and the two-decoder DeepFN network in PyTorch."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from auditkit.normalizers.deepfn.augment import preprocess
from auditkit.normalizers.deepfn.presets import DeepFNPreset


def _norm(p: DeepFNPreset, channels: int) -> list[nn.Module]:
    return [nn.BatchNorm2d(channels)] if p.norm == "batch" else []


class Encoder(nn.Module):
    """Table 1: strided 5x5 convolutions, dense latent, dense + reshape, 3x3 convolution and pixel shuffle."""

    def __init__(self, p: DeepFNPreset) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = 1
        for c in p.encoder_channels:
            layers += [nn.Conv2d(c_in, c, 5, stride=2, padding=2), *_norm(p, c), nn.LeakyReLU(p.negative_slope)]
            c_in = c
        self.down = nn.Sequential(*layers)
        side = p.size // 2 ** len(p.encoder_channels)
        self.reshape_side = p.bottleneck_side
        self.bottleneck_channels = p.bottleneck_channels
        self.dense = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c_in * side * side, p.latent),
            nn.Linear(p.latent, p.bottleneck_channels * self.reshape_side**2),
        )
        self.up = nn.Sequential(nn.Conv2d(p.bottleneck_channels, p.upscale_channels, 3, padding=1),
                                *_norm(p, p.upscale_channels), nn.LeakyReLU(p.negative_slope), nn.PixelShuffle(2))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 1, S, S) -> (n, latent): the first dense layer, the code the two decoders share."""
        return self.dense[1](self.dense[0](self.down(x)))

    def expand(self, z: torch.Tensor) -> torch.Tensor:
        """(n, latent) -> (n, upscale_channels/4, 2 * bottleneck_side, 2 * bottleneck_side): the rest of Table 1."""
        b = self.dense[2](z).view(-1, self.bottleneck_channels, self.reshape_side, self.reshape_side)
        return self.up(b)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 1, S, S) -> (n, upscale_channels/4, 2 * bottleneck_side, 2 * bottleneck_side)."""
        return self.expand(self.embed(x))


class Decoder(nn.Module):
    """Table 2: four 3x3 convolution + pixel-shuffle stages, then a 5x5 convolution with a sigmoid."""

    def __init__(self, p: DeepFNPreset) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c_in = p.upscale_channels // 4
        for c in p.decoder_channels:
            layers += [nn.Conv2d(c_in, c, 3, padding=1), *_norm(p, c), nn.LeakyReLU(p.negative_slope),
                       nn.PixelShuffle(2)]
            c_in = c // 4
        layers += [nn.Conv2d(c_in, 1, 5, padding=2), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(n, C, S/16, S/16) -> (n, 1, S, S) in [0, 1]."""
        return self.net(z)


class ConditionedDecoder(nn.Module):
    """The amortized subject decoder D^x: one decoder shared by all subjects, modulated by a learned subject embedding.

    The embedding scales and shifts the decoder's input features (FiLM), so each subject gets its own D^x at the
    cost of one small vector instead of a whole decoder.
    """

    def __init__(self, p: DeepFNPreset, n_subjects: int, embedding: int = 64) -> None:
        super().__init__()
        self.decoder = Decoder(p)
        channels = p.upscale_channels // 4
        self.embedding = nn.Embedding(n_subjects, embedding)
        nn.init.normal_(self.embedding.weight, std=0.1)
        self.film = nn.Linear(embedding, 2 * channels)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, z: torch.Tensor, subject: torch.Tensor) -> torch.Tensor:
        """Decode latents `z` of the given subject indices."""
        gamma, beta = self.film(self.embedding(subject)).chunk(2, dim=1)
        return self.decoder(z * (1 + gamma[:, :, None, None]) + beta[:, :, None, None])


class DeepFN(nn.Module):
    """E, D^y (template) and D^x (subject; per-subject or conditioned); normalize(x) = D^y(E(x)) (Eq. 2)."""

    def __init__(self, p: DeepFNPreset, n_subjects: int | None = None, equalize: str = "image",
                 background: str = "keep") -> None:
        super().__init__()
        self.preset = p
        # how its inputs were prepared (augment.preprocess): the histogram-equalization region and the background
        self.equalize = equalize
        self.background = background
        self.encoder = Encoder(p)
        self.template_decoder = Decoder(p)
        self.subject_decoder: nn.Module = Decoder(p) if n_subjects is None else ConditionedDecoder(p, n_subjects)
        # channels-last weights, so that training and normalization (of fresh and of cached weights) run the same
        # convolution kernels, the fastest on CPU as on GPU (the step times: benchmarks/README.md, DeepFN)
        self.to(memory_format=torch.channels_last)

    def prepare(self, faces: np.ndarray) -> torch.Tensor:
        """(n, H, W) uint8 faces as this model's inputs, prepared as its training inputs were."""
        return preprocess(faces, self.preset.size, self.equalize, self.background)

    def reconstruct_subject(self, x: torch.Tensor, subject: torch.Tensor | None = None) -> torch.Tensor:
        """D^x(E(x)): the training path of the person to normalize."""
        return self.decode_subject(self.encoder.embed(x), subject)

    def decode_subject(self, z: torch.Tensor, subject: torch.Tensor | None = None) -> torch.Tensor:
        """D^x of shared codes `z` (n, latent), for the given subject indices in amortized mode."""
        h = self.encoder.expand(z)
        return self.subject_decoder(h) if subject is None else self.subject_decoder(h, subject)

    def decode_template(self, z: torch.Tensor) -> torch.Tensor:
        """D^y of shared codes `z` (n, latent)."""
        return self.template_decoder(self.encoder.expand(z))

    def reconstruct_template(self, y: torch.Tensor) -> torch.Tensor:
        """D^y(E(y)): the training path of the template."""
        return self.template_decoder(self.encoder(y))

    def normalize(self, x: torch.Tensor, shift: torch.Tensor | None = None) -> torch.Tensor:
        """Eq. 2: X^y = D^y(E(X)); `shift` (latent,) is added to the code first (recentering: DeepFNNormalizer)."""
        if shift is None:
            return self.template_decoder(self.encoder(x))
        return self.template_decoder(self.encoder.expand(self.encoder.embed(x) + shift))
