"""What produced a result: the code behind each cached thing, and the machine, compiler, libraries and revision.

Two records, both written into every audit's run.json:
- **code versions.** Every family of code whose output is cached or resumed (a normalizer's faces, DeepFN's weights,
  LeNet-5's trainings, the scoring) holds a hand-bumped `CACHE_VERSION`; cache keys and an audit's identity include
  it, so an upgrade never silently reuses what older code made. `CODE_FAMILIES` lists each family's source files;
  tests/test_cache_versions.py fails when those files change without a bump (or a recorded "cannot change outputs").
- **the environment.** CPU model and a digest of its instruction-set flags, the C compiler that built the kernels,
  the library versions, the git revision when run from a checkout, and how the classifier computed. Its short `id` is
  written on every results row, so a resumed or clustered audit that mixed machines says so row by row.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

from auditkit import native
from auditkit.files import package_versions

PACKAGE = Path(__file__).resolve().parent

# family -> (where its hand-bumped version lives, the package files whose change can change what it caches or returns)
CODE_FAMILIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "none": ("auditkit.normalizers.identity:CACHE_VERSION", ("normalizers/identity.py",)),
    "histeq": ("auditkit.normalizers.histeq:CACHE_VERSION", ("normalizers/histeq.py",)),
    "oracle": ("auditkit.normalizers.oracle:CACHE_VERSION",
               ("normalizers/oracle.py", "normalizers/histeq.py", "data/synth/truth.py", "data/synth/face.py",
                "data/synth/render.py", "data/synth/expression.py", "data/synth/identity.py", "data/synth/capture.py",
                "data/synth/aus.py")),
    "deepfn-weights": ("auditkit.normalizers.deepfn.train:CACHE_VERSION",
                       ("normalizers/deepfn/train.py", "normalizers/deepfn/model.py", "normalizers/deepfn/augment.py",
                        "normalizers/deepfn/presets.py")),
    "deepfn": ("auditkit.normalizers.deepfn.normalizer:CACHE_VERSION",
               ("normalizers/deepfn/normalizer.py", "normalizers/deepfn/person_stats.py")),
    "lenet5": ("auditkit.classifiers.lenet:CACHE_VERSION",
               ("classifiers/lenet.py", "classifiers/lenet_fused.py", "classifiers/lenet_kernels.c")),
    "pretrained": ("auditkit.classifiers.pretrained:CACHE_VERSION", ("classifiers/pretrained.py",)),
    "scoring": ("auditkit.stats.metrics:CACHE_VERSION", ("stats/metrics.py",)),
}


# each family's version and source digest as released (tests/test_cache_versions.py keeps it true of the package)
RECORD = PACKAGE / "cache_versions.json"
# the plugins whose outputs each family's code makes (cache keys and audit identities hold their code_version)
PLUGIN_FAMILIES: dict[tuple[str, str], tuple[str, ...]] = {
    ("normalizer", "none"): ("none",), ("normalizer", "histeq"): ("histeq",), ("normalizer", "oracle"): ("oracle",),
    ("normalizer", "deepfn"): ("deepfn-weights", "deepfn"), ("classifier", "lenet5"): ("lenet5",),
    ("classifier", "pretrained"): ("pretrained",)}
_warned: set[str] = set()


@functools.cache
def _recorded() -> dict:
    try:
        return json.loads(RECORD.read_text())
    except (OSError, ValueError):
        return {}


def modified_code(families: tuple[str, ...] | list[str]) -> str:
    """'' for released code; '+<digest>' for each family whose sources differ from the record at the same
    CACHE_VERSION (a modified checkout), so a cache key or audit identity holding the version then follows the code
    itself and never reuses what the released code made. Said once per family, in the main process."""
    import importlib

    suffix = ""
    for family in families:
        where, _ = CODE_FAMILIES[family]
        module, name = where.split(":")
        recorded = _recorded().get(family)
        version = getattr(importlib.import_module(module), name)
        if recorded is None or recorded.get("version") != version:
            continue  # a bump not yet recorded: the version alone is new
        digest = _digest_once(family)
        if digest == recorded.get("digest"):
            continue
        suffix += f"+{digest}"
        if family not in _warned and _main_process():
            _warned.add(family)
            print(f"warning: auditkit's {family} code differs from this release's (a modified checkout; "
                  f"{where} is still {version}): its caches and audit results are keyed by the code itself "
                  "(outputs of the released code are not reused); bump the version if the change is to stay",
                  file=sys.stderr)
    return suffix


@functools.cache
def _digest_once(family: str) -> str:
    return family_digest(family)  # sources do not change under a running process


def _main_process() -> bool:
    import multiprocessing

    return multiprocessing.parent_process() is None


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return tree


def source_digest(paths: list[Path] | tuple[Path, ...]) -> str:
    """SHA-256 (16 hex digits) of source files as code: Python through its syntax tree without comments and
    docstrings (rewording them changes nothing), other files (C) byte for byte."""
    h = hashlib.sha256()
    for path in paths:
        text = Path(path).read_text(encoding="utf-8")
        if Path(path).suffix == ".py":
            text = ast.dump(_without_docstrings(ast.parse(text)), include_attributes=False)
        h.update(Path(path).name.encode() + b"\0" + text.encode() + b"\0")
    return h.hexdigest()[:16]


def family_digest(family: str) -> str:
    """The source digest of one code family (CODE_FAMILIES)."""
    return source_digest([PACKAGE / p for p in CODE_FAMILIES[family][1]])


def _short(obj: object) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:12]


@functools.cache
def cpu() -> dict[str, str]:
    """The CPU's model name and a digest of its instruction-set flags (native.cpu_signature: what -march=native
    compiles for)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware"):
                model = value.strip()
                break
    except OSError:
        pass
    flags = native.cpu_signature().partition(":")[2].split()
    return {"model": model, "flags": _short(" ".join(sorted(flags))) if flags else ""}


@functools.cache
def compiler_version(cc: str | None) -> str | None:
    """The first line of `cc --version` (None without a compiler or when it does not answer)."""
    if cc is None:
        return None
    try:
        out = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.strip().splitlines()
    return lines[0] if out.returncode == 0 and lines else None


@functools.cache
def git_revision() -> dict | None:
    """The checkout's commit and whether the package differs from it (None when auditkit is not run from git)."""
    root = PACKAGE.parent
    if not (root / ".git").exists():
        return None
    try:
        rev = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--", "auditkit"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"revision": rev.stdout.strip(), "modified": bool(dirty.stdout.strip())}


def environment(runtime: str | None = None) -> dict:
    """This process's environment record with its short `id`: CPU, compiler, library versions, git revision and
    the classifier `runtime` (e.g. LeNet-5's "C kernels")."""
    return json.loads(json.dumps(_environment(runtime)))  # a copy: callers may add to it


@functools.lru_cache(maxsize=16)
def _environment(runtime: str | None) -> dict:
    cc = native.compiler()
    uses_kernels = runtime is not None and runtime.startswith("C kernels")
    record = {"cpu": cpu()["model"], "cpu_flags": cpu()["flags"], "cpus": os.cpu_count(),
              "platform": platform.platform(), "machine": platform.machine(),
              "compiler": compiler_version(cc) if uses_kernels else None,
              "build_flags": " ".join(native.flags()) if uses_kernels else None,
              "classifier_runtime": runtime, "versions": package_versions(), "git": git_revision()}
    return {"id": _short(record), **record}


def run_record(env: dict) -> dict:
    """run.json's provenance keys for a run in environment `env`: `versions`, `machine` (this run's environment) and
    `environments` (every one that made results, by id; AuditDir.open adds earlier runs')."""
    return {"versions": env["versions"], "machine": {k: v for k, v in env.items() if k != "versions"},
            "environments": {env["id"]: env}}


# what a reader needs to tell two environments apart, in the order a warning names them
_COMPARED = ("cpu", "cpu_flags", "compiler", "classifier_runtime", "versions", "git", "platform")


def differences(old: dict, new: dict) -> list[str]:
    """What differs between two environment records, each as 'field old -> new' (versions one by one)."""
    out = []
    for key in _COMPARED:
        a, b = old.get(key), new.get(key)
        if key == "versions" and isinstance(a, dict) and isinstance(b, dict):
            out += [
                f"{pkg} {a.get(pkg)} -> {b.get(pkg)}" for pkg in sorted(set(a) | set(b)) if a.get(pkg) != b.get(pkg)
            ]
        elif key == "git" and a != b:
            out.append(f"git {(a or {}).get('revision', 'none')[:10]} -> {(b or {}).get('revision', 'none')[:10]}")
        elif a != b:
            out.append(f"{key.replace('_', ' ')} {a} -> {b}")
    return out
