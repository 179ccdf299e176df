"""Model sizes: `paper` is exactly Tables 1-2; `lite` keeps the structure at a CPU-trainable size."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeepFNPreset:
    """Sizes of the encoder and decoders; every stage of Tables 1-2 is one entry here."""

    name: str
    size: int = 128  # input/output height and width
    encoder_channels: tuple[int, ...] = (128, 256, 512, 1024)  # 5x5 stride-2 convolutions
    latent: int = 1024  # first dense layer
    bottleneck_channels: int = 1024  # channels of the reshaped second dense layer
    bottleneck_side: int = 4  # its height and width; the decoder then doubles it 1 + len(decoder_channels) times
    upscale_channels: int = 2048  # 3x3 convolution before the encoder's pixel shuffle
    decoder_channels: tuple[int, ...] = (1024, 512, 256, 128)  # 3x3 convolutions, each followed by a pixel shuffle
    negative_slope: float = 0.1  # LeakyReLU, as in the faceswap code the paper built on
    norm: str = "none"  # "batch" puts a BatchNorm after every hidden convolution (not in the paper's tables)

    def __post_init__(self) -> None:
        if self.size % 2 ** len(self.encoder_channels):
            raise ValueError(f"DeepFN input size {self.size} must be divisible by 2^{len(self.encoder_channels)}")
        out = self.bottleneck_side * 2 ** (1 + len(self.decoder_channels))
        if out != self.size:
            raise ValueError(f"bottleneck side {self.bottleneck_side} with {len(self.decoder_channels)} decoder stages "
                             f"gives {out}x{out} output, not the {self.size}x{self.size} input")
        if self.norm not in ("none", "batch"):
            raise ValueError(f"norm must be 'none' or 'batch', got {self.norm!r}")
        for c in (self.upscale_channels, *self.decoder_channels):
            if c % 4:
                raise ValueError(f"channels before a pixel shuffle must be divisible by 4, got {c}")


PRESETS: dict[str, DeepFNPreset] = {
    "paper": DeepFNPreset("paper"),
    # 64x64 input (LeNet-5's size), channels divided by 8, a 256-d latent: trainable on a CPU (its step time is in
    # benchmarks/README.md, DeepFN); BatchNorm (not in the paper) because with centered training it lifted the
    # cross-group score (ibid., DeepFN against the ceiling)
    "lite": DeepFNPreset("lite", size=64, encoder_channels=(16, 32, 64, 128), latent=256, bottleneck_channels=128,
                         bottleneck_side=2, upscale_channels=256, decoder_channels=(128, 64, 32, 16), norm="batch"),
}
