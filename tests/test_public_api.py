"""The public API in auditkit/__init__.py: every listed name resolves, and importing auditkit stays light."""

from __future__ import annotations

import subprocess
import sys

import pytest

import auditkit


@pytest.mark.parametrize("name", [n for n in auditkit.__all__ if n != "__version__"])
def test_every_public_name_resolves(name: str) -> None:
    assert getattr(auditkit, name) is not None


@pytest.mark.slow
def test_importing_auditkit_does_not_import_torch() -> None:
    code = "import sys, auditkit; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        auditkit.nope  # noqa: B018
