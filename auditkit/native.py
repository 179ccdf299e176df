"""Build a C source shipped in the package into a shared library once per machine, and load it with ctypes.

Why not a compiled wheel or a torch C++ extension: the kernels are plain C11 with no dependency, so the system C
compiler builds them in under a second on first use, tuned to the CPU at hand (-march=native); a wheel would need
one build per CPU family, and torch's extension builder takes a minute and its headers. Where no compiler works
the caller falls back to its PyTorch path, so nothing depends on this succeeding.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

from auditkit.files import cache_root

DISABLE_ENV = "AUDITKIT_NATIVE"  # "0" turns every native kernel off (the PyTorch paths run instead)
# the instruction set to build for: "native" (this CPU's best) unless set, e.g. to x86-64-v3 so that machines with
# and without AVX-512 run the same arithmetic (benchmarks/bench_runtime_drift.py measures what that changes)
MARCH_ENV = "AUDITKIT_MARCH"


def flags() -> tuple[str, ...]:
    """The compiler flags (-ffp-contract=fast: fused multiply-adds, which ISO C mode (-std=c11) otherwise turns off)."""
    march = os.environ.get(MARCH_ENV, "").strip() or "native"
    return ("-O3", f"-march={march}", "-std=c11", "-ffp-contract=fast", "-shared", "-fPIC")



class NativeUnavailable(RuntimeError):
    """The C source could not be built or loaded on this machine; the message says why, in one line."""


def disabled() -> bool:
    """True when AUDITKIT_NATIVE=0 asks for the PyTorch paths."""
    return os.environ.get(DISABLE_ENV, "").strip().lower() in ("0", "false", "no", "off")


def compiler() -> str | None:
    """The C compiler to use: $CC, else cc, gcc or clang found on PATH."""
    for name in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if name and shutil.which(name):
            return name
    return None


def cpu_signature() -> str:
    """The CPU's instruction-set flags line (/proc/cpuinfo), else the processor name: -march=native code may not run
    on another CPU, so a cache shared between machines (a cluster's home directory) keeps one library per set."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags") or line.startswith("Features"):
                return line
    except OSError:
        pass
    return platform.processor()


def _flags(defines: dict[str, str]) -> list[str]:
    return [*flags(), *(f"-D{name}={value}" for name, value in sorted(defines.items()))]


def library_path(source: Path, cc: str, defines: dict[str, str] | None = None) -> Path:
    """Where the library built from `source` with `cc` (and preprocessor `defines`) on this CPU lives in the cache."""
    h = hashlib.sha256()
    for part in (source.read_bytes(), cc.encode(), " ".join(_flags(defines or {})).encode(),
                 platform.machine().encode(), cpu_signature().encode()):
        h.update(part)
        h.update(b"\0")
    return cache_root() / "native" / f"{source.stem}-{h.hexdigest()[:16]}.so"


def build(source: Path, defines: dict[str, str] | None = None) -> Path:
    """Compile `source` (with preprocessor `defines`) into the cache unless already there; raise NativeUnavailable
    naming what failed."""
    cc = compiler()
    if cc is None:
        raise NativeUnavailable("no C compiler found (set CC, or install cc/gcc/clang)")
    target = library_path(source, cc, defines)
    if target.exists():
        return target
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        # build beside the target and rename: parallel workers sharing the cache never load a half-written file
        fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".so.tmp")
        os.close(fd)
        result = subprocess.run([cc, *_flags(defines or {}), "-o", tmp, str(source)], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            lines = result.stderr.strip().splitlines() or ["no output"]
            first = next((line for line in lines if "error" in line), lines[0])  # not "In function ...:"
            raise NativeUnavailable(f"{cc} could not build {source.name}: {first}")
        os.replace(tmp, target)
        tmp = None
    except (OSError, subprocess.SubprocessError) as err:
        raise NativeUnavailable(f"could not build {source.name} into {target.parent}: {err}") from err
    finally:
        if tmp is not None:  # failed or timed out: leave nothing half-built
            Path(tmp).unlink(missing_ok=True)
    return target


def load(source: Path, defines: dict[str, str] | None = None) -> ctypes.CDLL:
    """Build (if needed) and load `source` as a ctypes library; ctypes.CDLL releases the GIL during calls."""
    if disabled():
        raise NativeUnavailable(f"turned off by {DISABLE_ENV}=0")
    path = build(source, defines)
    try:
        return ctypes.CDLL(str(path))
    except OSError as err:
        raise NativeUnavailable(f"could not load {path}: {err}") from err
