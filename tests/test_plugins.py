"""Third-party plugins are first-class: an installed package's entry point is listed and audited like a built-in."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
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
    assert "contrast" in listed.stdout
    # written from ARCHITECTURE.md alone: both pass the checks auditkit's own plugins pass
    checked = subprocess.run([sys.executable, "-c", "from auditkit.testing import check_plugin; "
                              "from auditkit.plugins import load; "
                              "check_plugin(load('normalizer', 'contrast'), 'normalizer', 'contrast', gamma=0.8); "
                              "check_plugin(load('classifier', 'base-rate'), 'classifier', 'base-rate'); print('ok')"],
                             capture_output=True, text=True, env=env, timeout=300)
    assert checked.stdout.strip() == "ok", checked.stderr
    import json

    import pandas as pd

    common = ["--attr", "gender", "--data", str(audit_dataset), "--classifier", "base-rate", "--preset", "smoke",
              "--repeats", "1", "--train", "2", "--val", "1", "--normalizer", "contrast",
              "--normalizer-option", "contrast.gamma=0.8", "--normalizer-option", "contrast.clip=yes"]
    res = run("gap", *common, "--jobs", "1", "--out", str(tmp_path / "audit"))
    assert res.returncode == 0, res.stderr
    results = pd.read_parquet(tmp_path / "audit" / "results.parquet")
    assert set(results["classifier"]) == {"base-rate"} and set(results["normalizer"]) == {"none", "contrast"}
    assert set(results["epochs_run"]) == {1} and set(results["classifier_runtime"]) == {"NumPy base rates"}
    settings = json.loads((tmp_path / "audit" / "normalizers.json").read_text())["contrast"]
    assert settings["gamma"] == 0.8 and settings["template"]  # fitted_settings, after bind
    run_json = json.loads((tmp_path / "audit" / "run.json").read_text())
    assert run_json["code"]["normalizer:contrast"] == "1" and run_json["code"]["classifier:base-rate"] == "1"
    # and on a cluster: the same results
    res = run("gap", *common, "--cluster", "local:1", "--out", str(tmp_path / "cluster"))
    assert res.returncode == 0, res.stderr
    on_cluster = pd.read_parquet(tmp_path / "cluster" / "results.parquet")
    metrics = ["f1", "accuracy"]
    assert np.allclose(on_cluster[metrics].to_numpy(float), results[metrics].to_numpy(float), equal_nan=True)
    bad = run("gap", *common[:-4], "--normalizer-option", "contrast.clip=maybe", "--out", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "contrast.clip takes one of yes, no, got 'maybe'" in bad.stderr
