"""Where auditkit keeps its caches, and writes that never leave a torn file behind."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import platform
import re
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from auditkit import __version__
from auditkit.errors import InputFileError


def cache_root() -> Path:
    """$AUDITKIT_CACHE, else $XDG_CACHE_HOME/auditkit, else ~/.cache/auditkit."""
    root = os.environ.get("AUDITKIT_CACHE")
    if root:
        return Path(root)
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "auditkit"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; it replaces `path` only if the block completes.

    An OSError that names no file is given `path`, so the one-line error says which file could not be written; a
    short write (how numpy reports a full disk: "9830400 requested and 196480 written", no errno) says the cause."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except OSError as exc:
        short = re.fullmatch(r"(\d+) requested and (\d+) written", str(exc)) if exc.errno is None else None
        if short:
            raise OSError(errno.ENOSPC, f"no space left on device (or over quota): only {short.group(2)} of "
                          f"{short.group(1)} bytes written", str(path)) from exc
        if exc.filename is None:
            exc.filename = str(path)
        raise
    finally:
        tmp.unlink(missing_ok=True)


def write_parquet_atomic(df: pd.DataFrame, path: Path) -> None:
    """Write a table without its index, all or nothing."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def write_json_atomic(obj: object, path: Path) -> None:
    """Write indented, key-sorted JSON, all or nothing."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")


def write_text_atomic(text: str, path: Path) -> None:
    """Write UTF-8 text, all or nothing: a full disk leaves the previous file (or none), never a torn one."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def read_json_object(path: Path, error: type[InputFileError] = InputFileError) -> dict[str, Any]:
    """Parse a JSON file that must hold an object; `error` naming the file otherwise."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(path, None, f"not valid JSON ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(data, dict):
        raise error(path, None, "must hold a JSON object")
    return data


def validation_problem(exc: Exception, model: type, noun: str = "field") -> tuple[str | None, str]:
    """(field, problem) of a pydantic ValidationError's first error, worded for a one-line InputFileError."""
    first = exc.errors()[0]  # type: ignore[attr-defined]
    field = str(first["loc"][0]) if first["loc"] else None
    kind = first["type"]
    if kind == "missing":
        hint = model.model_fields[field].description if field in model.model_fields else None
        return field, f"required {noun} is missing" + (f" ({hint})" if hint else "")
    if kind == "extra_forbidden":
        return field, f"unknown {noun} (known: {', '.join(sorted(model.model_fields))})"
    message = first["msg"].removeprefix("Value error, ")
    if kind != "value_error":  # pydantic's own wording: say what was found
        message = f"{message[0].lower()}{message[1:]}, got {first.get('input')!r}"
    return field, message


def package_versions() -> dict[str, str]:
    """Versions of auditkit, Python and the libraries that shape results (recorded in run.json)."""
    out = {"auditkit": __version__, "python": platform.python_version()}
    for pkg in ("torch", "numpy", "pandas", "scikit-learn", "fairlearn", "pingouin", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file, or of a folder's files in name order: an input's identity wherever it is moved."""
    path = Path(path)
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]:
        digest.update(f.relative_to(path).as_posix().encode() if path.is_dir() else b"")
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()
