"""The command line: help, version, synth, inspect, and one-line errors with a non-zero exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from auditkit import __version__


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "auditkit", *args], capture_output=True, text=True, timeout=300)


def test_version_and_help() -> None:
    assert run("--version").stdout.strip() == f"auditkit {__version__}"
    out = run("--help").stdout
    assert "synth" in out and "inspect" in out


def test_inspect_prints_summary(tiny_dataset: Path) -> None:
    res = run("inspect", str(tiny_dataset))
    assert res.returncode == 0, res.stderr
    assert "bp4d-synth" in res.stdout and "AU12" in res.stdout and "not coded" in res.stdout


def test_inspect_bad_dataset_is_one_line(dataset_copy: Path) -> None:
    (dataset_copy / "frames.parquet").write_bytes(b"junk")
    res = run("inspect", str(dataset_copy))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "frames.parquet" in lines[0] and "not a readable Parquet" in lines[0]


def test_synth_needs_a_target() -> None:
    res = run("synth")
    assert res.returncode == 2 and "--out" in res.stderr


def test_synth_preview_png(tmp_path: Path) -> None:
    png = tmp_path / "sheet.png"
    res = run("synth", "--preview", str(png))
    assert res.returncode == 0, res.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_synth_then_inspect(tmp_path: Path) -> None:
    out = tmp_path / "synth"
    res = run("synth", "--out", str(out), "--frames-per-subject", "4", "--seed", "5")
    assert res.returncode == 0, res.stderr
    res = run("inspect", str(out))
    assert res.returncode == 0, res.stderr
    assert "68" in res.stdout  # 41 + 27 subjects
    again = run("synth", "--out", str(out), "--frames-per-subject", "4")
    assert again.returncode == 2 and "already exists" in again.stderr
