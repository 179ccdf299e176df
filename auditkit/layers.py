"""Layer-by-layer output shapes and parameter counts of auditkit's models, printed like the paper's Tables 1-3.

Hand-written rather than torchinfo: the paper orders shapes H, W, C and counts D^x (a conditioned copy of D^y)
separately, and a dozen lines of forward hooks do both without another dependency.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerRow:
    """One layer: its name, output shape (H, W, C as in the paper) and parameter count."""

    block: str
    layer: str
    output: tuple[int, ...]
    params: int


def layer_rows(blocks: dict[str, nn.Module], x: torch.Tensor) -> list[LayerRow]:
    """Run x through the blocks in order, recording every leaf layer's output shape and parameters."""
    rows: list[LayerRow] = []
    for block_name, block in blocks.items():
        hooks = []
        for name, mod in block.named_modules():
            if len(list(mod.children())) == 0 and not isinstance(mod, nn.Embedding):
                def hook(m: nn.Module, _inp, out, name: str = name, block_name: str = block_name) -> None:
                    shape = tuple(out.shape[1:])
                    shape = (shape[1], shape[2], shape[0]) if len(shape) == 3 else shape  # paper order: H, W, C
                    rows.append(
                        LayerRow(block_name, m.__class__.__name__, shape, sum(p.numel() for p in m.parameters()))
                    )

                hooks.append(mod.register_forward_hook(hook))
        with torch.no_grad():
            x = block(x)
        for h in hooks:
            h.remove()
    return rows


@dataclass
class ModelDescription:
    """What `auditkit describe` prints: a title, the layer rows, parameter totals per block and overall."""

    title: str
    input_size: int
    rows: list[LayerRow]
    totals: dict[str, int]
    total: int


def describe_model(model: str, preset: str | None = None, aus: int = 12) -> ModelDescription:
    """The layer table of `deepfn` (a preset; default: the one DeepFNNormalizer picks here) or `lenet5` (aus
    outputs)."""
    from auditkit.errors import AuditkitError

    if model == "deepfn":
        from auditkit.normalizers.deepfn.model import DeepFN
        from auditkit.normalizers.deepfn.presets import PRESETS

        preset = preset or ("paper" if torch.cuda.is_available() else "lite")  # as DeepFNNormalizer chooses
        if preset not in PRESETS:
            raise AuditkitError(f"--preset: unknown DeepFN preset {preset!r} (choose from {', '.join(PRESETS)})")
        net: nn.Module = DeepFN(PRESETS[preset])
        size = PRESETS[preset].size
        blocks = {"encoder E": net.encoder, "decoder D^y (D^x identical)": net.template_decoder}
        extra = {"decoder D^x": sum(p.numel() for p in net.subject_decoder.parameters())}
        title = f"deepfn ({preset})"
    elif model == "lenet5":
        from auditkit.classifiers.lenet import INPUT_SIZE, LeNet5

        net, size = LeNet5(aus, fused=False), INPUT_SIZE  # the layer by layer path, which the hooks see
        blocks, extra, title = {"LeNet-5": net}, {}, "lenet5"
    else:
        raise AuditkitError(f"describe: unknown model {model!r} (choose deepfn or lenet5)")
    rows = layer_rows(blocks, torch.zeros(1, 1, size, size))
    totals = {name: sum(p.numel() for p in block.parameters()) for name, block in blocks.items()} | extra
    return ModelDescription(title, size, rows, totals, sum(p.numel() for p in net.parameters()))
