"""Third-party plugins are first-class: an installed package's entry point is listed and audited like a built-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from auditkit.errors import AuditkitError
from auditkit.plugins import available, load

PLUGIN = Path(__file__).parent / "example_plugin"


def test_builtins_register_through_entry_points() -> None:
    assert {"none", "histeq", "deepfn"} <= set(available("normalizer"))
    assert "lenet5" in available("classifier") and "synthetic" in available("dataset")
    with pytest.raises(AuditkitError, match="unknown classifier 'nope'"):
        load("classifier", "nope")


@pytest.mark.slow
def test_example_plugin_package_is_listed_and_audited(audit_dataset: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    source = shutil.copytree(PLUGIN, tmp_path / "plugin-src")  # building in place would litter the repository
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                              "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert install.returncode == 0, install.stderr
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "auditkit", *args], capture_output=True, text=True, env=env,
                              timeout=300)

    listed = run("plugins")
    assert "base-rate" in listed.stdout and "auditkit_example_plugin:BaseRateClassifier" in listed.stdout
    res = run("gap", "--attr", "gender", "--data", str(audit_dataset), "--classifier", "base-rate", "--preset", "smoke",
              "--repeats", "1", "--train", "2", "--val", "1", "--jobs", "1", "--out", str(tmp_path / "audit"))
    assert res.returncode == 0, res.stderr
    import pandas as pd

    results = pd.read_parquet(tmp_path / "audit" / "results.parquet")
    assert set(results["classifier"]) == {"base-rate"} and len(results) > 0
