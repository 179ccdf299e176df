"""Headless Chromium for the report tests: render a page offline, read its DOM, take a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def _flags(profile: Path) -> list[str]:
    return ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
            "--disable-component-update", "--disable-sync", "--virtual-time-budget=15000", f"--user-data-dir={profile}"]


def chromium() -> str:
    """The browser's path, or skip the test where it is not installed."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("chromium is not installed (.ci/run installs Debian's chromium package)")
    return found


def render(report: Path, profile: Path) -> tuple[str, str, list[str]]:
    """(the DOM after the page's scripts ran, the same without its <script> elements, console errors)."""
    dom = subprocess.run([chromium(), *_flags(profile), "--enable-logging=stderr", "--v=0", "--dump-dom",
                          report.as_uri()], capture_output=True, text=True, timeout=180)
    page = re.sub(r"<script\b.*?</script>", "", dom.stdout, flags=re.S)
    errors = [line for line in dom.stderr.splitlines() if "CONSOLE" in line and ("Error" in line or "error" in line)]
    return dom.stdout, page, errors


def screenshot(report: Path, profile: Path, name: str) -> Path:
    """A 1200-pixel-wide screenshot into test-artifacts/, to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / name
    subprocess.run(
        [
            chromium(), *_flags(profile), "--hide-scrollbars", "--window-size=1200,2400", f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        timeout=180,
    )
    return shot
