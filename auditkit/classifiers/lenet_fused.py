"""LeNet-5's convolutional features as fused C kernels (lenet_kernels.c) with their autograd, and the PyTorch fallback.

One kernel call runs conv1 -> ReLU -> 2x2 average pooling -> conv2 -> ReLU -> pooling image by image, so each image's
activations stay in cache between the layers; its backward gives the four parameter gradients (the input is the data
and gets none) in one pass per image, conv2's input gradient feeding stage 1's weight gradient directly. The dense
head stays with PyTorch. Where the kernels cannot be built (no C compiler) or AUDITKIT_NATIVE=0, `available()` is
False and LeNet5 runs its PyTorch layers: same model, same state dict, results equal up to float rounding.
"""

from __future__ import annotations

import ctypes
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

from auditkit import native

SOURCE = Path(__file__).with_name("lenet_kernels.c")
MAX_WIDTH = 1024  # MAXW in lenet_kernels.c: widest image row
C1 = 6  # C1 in lenet_kernels.c: conv1's filter count, fixed there
MAX_FILTERS = 256  # MAXC in lenet_kernels.c: most conv2 filters
MIN_SIZE = 10  # smallest image side with a pooled conv2 output

_lock = threading.Lock()
_state: dict[str, object] = {}


def _signatures(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.features_forward.argtypes = [p, i, i, p, p, p, p, i, p, p, p, p, i, i]
    lib.features_forward.restype = i
    lib.features_backward.argtypes = [p, i, i, p, i, p, p, p, p, p, i, i]
    lib.features_backward.restype = i
    lib.lanes.argtypes = []
    lib.lanes.restype = i
    lib.sum_rows.argtypes = [p, i, i, p]
    lib.sum_rows.restype = None
    return lib


def library() -> ctypes.CDLL | None:
    """The loaded kernels, building them on first use; None where they cannot be used (see unavailable_reason)."""
    if native.disabled():
        return None
    if "lib" in _state:  # every forward asks: no lock once loaded
        return _state["lib"]  # type: ignore[return-value]
    with _lock:
        if "lib" not in _state and "reason" not in _state:
            try:
                _state["lib"] = _signatures(native.load(SOURCE))
            except native.NativeUnavailable as err:
                _state["reason"] = str(err)
    return _state.get("lib")  # type: ignore[return-value]


def available() -> bool:
    """True when LeNet-5 runs on the fused kernels on this machine."""
    return library() is not None


def unavailable_reason() -> str | None:
    """Why the fused kernels are not used (None when they are)."""
    if native.disabled():
        return f"turned off by {native.DISABLE_ENV}=0"
    library()
    return _state.get("reason")  # type: ignore[return-value]


def describe() -> str:
    """How LeNet-5 runs in this process: 'C kernels', or 'PyTorch layers (why)'."""
    reason = unavailable_reason()
    return "C kernels" if reason is None else f"PyTorch layers ({reason})"


def fallback_note() -> str | None:
    """One line saying why LeNet-5 runs on its PyTorch layers here (None on the kernels): audits print it."""
    reason = unavailable_reason()
    if reason is None:
        return None
    return (f"note: LeNet-5 runs on its PyTorch layers here ({reason}): about 2x slower, and its scores differ from "
            "the C kernels' by float rounding carried through training")


def usable(x: torch.Tensor, weight1: torch.Tensor, weight2: torch.Tensor) -> bool:
    """Whether this forward can run fused: float32 CPU tensors, one input channel, the kernels' filter counts and
    sizes (6 then 6 -> any, 3x3), images the kernels hold, and no gradient wanted for the input."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight1.dtype == weight2.dtype == torch.float32
            and x.dim() == 4 and x.shape[1] == 1 and MIN_SIZE <= x.shape[2] and MIN_SIZE <= x.shape[3] <= MAX_WIDTH
            and tuple(weight1.shape) == (C1, 1, 3, 3) and tuple(weight2.shape[1:]) == (C1, 3, 3)
            and weight2.shape[0] <= MAX_FILTERS
            and not x.requires_grad and available())


def _ptr(t: torch.Tensor) -> ctypes.c_void_p:
    return ctypes.c_void_p(t.data_ptr())


_pool: tuple[int, ThreadPoolExecutor] | None = None  # (the process that made it, the pool)


def _over_images(kernel: str, n: int, *args: object) -> None:
    """Run kernel(*args, i0, i1) over the batch, split across torch's thread count (ctypes releases the GIL)."""
    global _pool
    fn = getattr(library(), kernel)
    threads = torch.get_num_threads()
    if threads <= 1 or n < 2 * threads:
        codes = [fn(*args, 0, n)]
    else:
        with _lock:
            # a new pool in a forked child too: the parent's threads do not exist there, and its pool would hang
            if _pool is None or _pool[0] != os.getpid() or _pool[1]._max_workers < threads:
                _pool = (os.getpid(), ThreadPoolExecutor(max_workers=threads, thread_name_prefix="auditkit-lenet"))
            pool = _pool[1]
        cuts = [n * k // threads for k in range(threads + 1)]
        codes = list(pool.map(lambda k: fn(*args, cuts[k], cuts[k + 1]), range(threads)))
    failed = [c for c in codes if c]
    if failed:  # usable() keeps sizes in range, so this is memory
        raise MemoryError(f"{SOURCE.name}: {kernel} failed (code {failed[0]}: -1 unsupported size, -2 out of memory)")


def _sizes(x: torch.Tensor) -> tuple[int, int, int, int, int, int]:
    # (h1, w1): stage 1's output; (hp, wp): the features' output; (ho, wo): conv2's pixels under pooling windows
    H, W = x.shape[2:]
    h1, w1 = (H - 2) // 2, (W - 2) // 2
    hp, wp = (h1 - 2) // 2, (w1 - 2) // 2
    return h1, w1, hp, wp, 2 * hp, 2 * wp


def _operands(x: torch.Tensor, weight1: torch.Tensor, bias1: torch.Tensor,
              weight2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    # the images as (n, H, W) rows, conv1 as (6, 9) taps, conv2 as (Co, 6, 3, 3): contiguous, as the kernels read them
    n, _, H, W = x.shape
    return (x.detach().reshape(n, H, W).contiguous(), weight1.detach().reshape(C1, 9).contiguous(),
            bias1.detach().contiguous(), weight2.detach().contiguous())


Kept = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # what a training forward keeps for features_grads


def features_forward(x: torch.Tensor, weight1: torch.Tensor, bias1: torch.Tensor, weight2: torch.Tensor,
                     bias2: torch.Tensor, keep: bool = False) -> tuple[torch.Tensor, Kept | None]:
    """(n, 1, H, W) -> (n, Co, hp, wp) contiguous: pool(relu(conv2(pool(relu(conv1(x)))))), 2x2 average pools.

    With keep, also what features_grads needs: stage 1's output and both ReLUs' masks (as bits)."""
    n, _, H, W = x.shape
    Co = weight2.shape[0]
    h1, w1, hp, wp, ho, wo = _sizes(x)
    xc, w1c, b1c, w2c = _operands(x, weight1, bias1, weight2)
    b2c = bias2.detach().contiguous()
    out = torch.empty(n, Co, hp, wp)  # planar: the dense head flattens it without a copy
    kept = None
    if keep:
        lanes = library().lanes()
        vectors = -(-w1 // lanes), -(-Co // lanes)  # a row of stage 1's output, a pixel's conv2 channels
        kept = (torch.empty(n, C1, h1, w1), torch.empty(n, C1 * h1 * vectors[0] * 4, dtype=torch.int16),
                torch.empty(n, ho * wo * vectors[1], dtype=torch.int16))
    _over_images("features_forward", n, _ptr(xc), H, W, _ptr(w1c), _ptr(b1c), _ptr(w2c), _ptr(b2c), Co, _ptr(out),
                 *((_ptr(t) for t in kept) if kept else (None,) * 3))
    return out, kept


def features_grads(x: torch.Tensor, weight1: torch.Tensor, weight2: torch.Tensor, kept: Kept,
                   grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of features_forward's conv1 weight and bias, then conv2's, given its output's gradient and what
    its keep=True forward kept."""
    n, _, H, W = x.shape
    Co = weight2.shape[0]
    xc = x.detach().reshape(n, H, W).contiguous()
    w2c = weight2.detach().contiguous()
    g = grad.contiguous()
    per_image = C1 * 10 + Co * C1 * 9 + Co
    part = torch.empty(n, per_image)
    _over_images("features_backward", n, _ptr(xc), H, W, _ptr(w2c), Co, *(_ptr(t) for t in kept), _ptr(g), _ptr(part))
    total = torch.empty(per_image)
    library().sum_rows(_ptr(part), n, per_image, _ptr(total))
    stage1 = total[: C1 * 10].reshape(C1, 10)
    return (stage1[:, :9].reshape(weight1.shape).contiguous(), stage1[:, 9].contiguous(),
            total[C1 * 10 : C1 * 10 + Co * C1 * 9].reshape(weight2.shape).contiguous(),
            total[C1 * 10 + Co * C1 * 9 :].contiguous())


class Features(torch.autograd.Function):
    """Autograd of the fused features; the input gets no gradient (it is the data)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight1: torch.Tensor, bias1: torch.Tensor, weight2: torch.Tensor,  # noqa: D102
                bias2: torch.Tensor) -> torch.Tensor:
        out, kept = features_forward(x, weight1, bias1, weight2, bias2, keep=True)
        ctx.save_for_backward(x, weight1, weight2, *kept)
        return out

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor, torch.Tensor,  # noqa: D102
                                                   torch.Tensor]:
        x, weight1, weight2, *kept = ctx.saved_tensors
        return None, *features_grads(x, weight1, weight2, tuple(kept), grad)


def features(x: torch.Tensor, weight1: torch.Tensor, bias1: torch.Tensor, weight2: torch.Tensor,
             bias2: torch.Tensor) -> torch.Tensor:
    """LeNet-5's features fused, (n, 1, H, W) -> (n, Co, hp, wp), with autograd only when a gradient is wanted."""
    if torch.is_grad_enabled() and any(t.requires_grad for t in (weight1, bias1, weight2, bias2)):
        return Features.apply(x, weight1, bias1, weight2, bias2)
    return features_forward(x, weight1, bias1, weight2, bias2)[0]
