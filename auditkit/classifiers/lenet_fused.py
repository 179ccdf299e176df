"""LeNet-5's activation stages as fused C kernels (lenet_kernels.c) with their autograd, and the PyTorch fallback.

Stage 1 is conv1 + ReLU + 2x2 average pooling in one pass per image (the backward recomputes conv1, and gives the
weight and bias gradients only: the input is the data). Stage 2 is conv2 on oneDNN, then ReLU + pooling fused, and
its whole backward (pooling, ReLU, conv2's input, weight and bias gradients) in one pass per image. The dense head
stays with PyTorch. Where the kernels cannot be built (no C compiler) or AUDITKIT_NATIVE=0, `available()` is False
and LeNet5 runs its PyTorch layers: same model, same state dict, results equal up to float rounding.
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

_lock = threading.Lock()
_state: dict[str, object] = {}


def _signatures(lib: ctypes.CDLL) -> ctypes.CDLL:
    p, i = ctypes.c_void_p, ctypes.c_int
    lib.stage1_forward.argtypes = [p, i, i, p, p, i, p, i, i]
    lib.stage1_forward.restype = i
    lib.stage1_backward.argtypes = [p, i, i, p, p, i, p, p, i, i]
    lib.stage1_backward.restype = i
    lib.relu_pool_forward.argtypes = [p, i, i, i, p, i, i]
    lib.relu_pool_forward.restype = i
    lib.stage2_backward.argtypes = [p, p, p, i, i, i, p, i, p, p, i, i]
    lib.stage2_backward.restype = i
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


def usable(x: torch.Tensor, weight1: torch.Tensor, weight2: torch.Tensor) -> bool:
    """Whether this forward can run fused: float32 CPU tensors, one input channel, the kernels' filter counts and
    sizes (6 then 6 -> any, 3x3), images the kernels hold, and no gradient wanted for the input."""
    return (x.device.type == "cpu" and x.dtype == torch.float32 and weight1.dtype == weight2.dtype == torch.float32
            and x.dim() == 4 and x.shape[1] == 1 and 4 <= x.shape[2] and 4 <= x.shape[3] <= MAX_WIDTH
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


def _stage1_operands(x: torch.Tensor, weight: torch.Tensor,
                     bias: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    # the images as (n, H, W) rows and the filters as (C, 9) taps, contiguous, as lenet_kernels.c reads them
    n, _, H, W = x.shape
    return x.reshape(n, H, W).contiguous(), weight.detach().reshape(len(weight), 9).contiguous(), bias.detach().contiguous()


def stage1_forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """(n, 1, H, W) -> (n, C, (H-2)//2, (W-2)//2) channels-last: avg_pool2d(relu(conv2d(x, weight, bias)), 2)."""
    n, _, H, W = x.shape
    C = weight.shape[0]
    xc, w, b = _stage1_operands(x, weight, bias)
    out = torch.empty(n, (H - 2) // 2, (W - 2) // 2, C)
    _over_images("stage1_forward", n, _ptr(xc), H, W, _ptr(w), _ptr(b), C, _ptr(out))
    return out.permute(0, 3, 1, 2)


def stage1_grads(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor,
                 grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Gradients of stage1_forward's weight (C, 1, 3, 3) and bias (C,) given its output gradient."""
    n, _, H, W = x.shape
    C = weight.shape[0]
    xc, w, b = _stage1_operands(x, weight, bias)
    g = grad.contiguous()  # planar, as conv_input_grad writes it
    part = torch.empty(n, C * 10)
    _over_images("stage1_backward", n, _ptr(xc), H, W, _ptr(w), _ptr(b), C, _ptr(g), _ptr(part))
    total = torch.empty(C * 10)
    library().sum_rows(_ptr(part), n, C * 10, _ptr(total))
    total = total.reshape(C, 10)
    return total[:, :9].reshape(C, 1, 3, 3).contiguous(), total[:, 9].contiguous()


def stage2_grads(x: torch.Tensor, weight: torch.Tensor, a: torch.Tensor,
                 grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Gradients of avg_pool2d(relu(a), 2) with a = conv2d(x, weight, bias), given the pooled output's gradient:
    x's (planar), weight's and bias's."""
    n, C, Hi, Wi = x.shape
    Co, Ho, Wo = weight.shape[0], Hi - 2, Wi - 2
    xc = x.detach().permute(0, 2, 3, 1).contiguous()
    ac = a.detach().permute(0, 2, 3, 1).contiguous()
    g = grad.contiguous()
    w = weight.detach().contiguous()
    dx = torch.empty(n, C, Hi, Wi)  # planar: stage 1's backward reads it so
    per_image = Co * C * 9 + Co
    part = torch.empty(n, per_image)
    _over_images("stage2_backward", n, _ptr(xc), _ptr(ac), _ptr(g), Ho, Wo, Co, _ptr(w), C, _ptr(dx), _ptr(part))
    total = torch.empty(per_image)
    library().sum_rows(_ptr(part), n, per_image, _ptr(total))
    return dx, total[: Co * C * 9].reshape(weight.shape).contiguous(), total[Co * C * 9 :].contiguous()


def relu_pool_forward(a: torch.Tensor) -> torch.Tensor:
    """(n, C, H, W) -> (n, C, H//2, W//2) contiguous: avg_pool2d(relu(a), 2)."""
    n, C, H, W = a.shape
    ac = a.detach().permute(0, 2, 3, 1).contiguous()
    out = torch.empty(n, C, H // 2, W // 2)  # planar: the dense head flattens it without a copy
    _over_images("relu_pool_forward", n, _ptr(ac), H, W, C, _ptr(out))
    return out


class Stage1(torch.autograd.Function):
    """Autograd of the fused conv1 + ReLU + pooling; the input gets no gradient (it is the data)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x, weight, bias)
        return stage1_forward(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[None, torch.Tensor, torch.Tensor]:  # noqa: D102
        x, weight, bias = ctx.saved_tensors
        dw, db = stage1_grads(x, weight, bias, grad)
        return None, dw, db


class Stage2(torch.autograd.Function):
    """conv2 (on oneDNN) + ReLU + pooling (fused); the whole backward in one C pass per image."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:  # noqa: D102
        a = torch.nn.functional.conv2d(x, weight, bias)
        ctx.save_for_backward(x, weight, a)
        return relu_pool_forward(a)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # noqa: D102
        x, weight, a = ctx.saved_tensors
        return stage2_grads(x, weight, a, grad)


def stage1(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Fused conv1 + ReLU + pooling, with autograd only when a gradient is wanted."""
    if torch.is_grad_enabled() and (weight.requires_grad or bias.requires_grad):
        return Stage1.apply(x, weight, bias)
    return stage1_forward(x, weight, bias)


def stage2(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """conv2 + ReLU + pooling, (n, 6, H, W) -> (n, Co, (H-2)//2, (W-2)//2) contiguous, with autograd when wanted."""
    if torch.is_grad_enabled() and (x.requires_grad or weight.requires_grad or bias.requires_grad):
        return Stage2.apply(x, weight, bias)
    return relu_pool_forward(torch.nn.functional.conv2d(x, weight, bias))
