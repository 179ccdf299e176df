"""Layer-by-layer output shapes and parameter counts, printed like the paper's tables."""

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


def describe(blocks: dict[str, nn.Module], x: torch.Tensor) -> list[LayerRow]:
    """Run x through the blocks in order, recording every leaf layer's output shape and parameters."""
    rows: list[LayerRow] = []
    for block_name, block in blocks.items():
        hooks = []
        for name, mod in block.named_modules():
            if len(list(mod.children())) == 0 and not isinstance(mod, nn.Embedding):
                def hook(m: nn.Module, _inp, out, name: str = name, block_name: str = block_name) -> None:
                    shape = tuple(out.shape[1:])
                    shape = (shape[1], shape[2], shape[0]) if len(shape) == 3 else shape  # paper order: H, W, C
                    rows.append(LayerRow(block_name, m.__class__.__name__, shape, sum(p.numel() for p in m.parameters())))
                hooks.append(mod.register_forward_hook(hook))
        with torch.no_grad():
            x = block(x)
        for h in hooks:
            h.remove()
    return rows
