"""`auditkit ingest` dispatches a source it does not ship to an installed `auditkit.datasets` plugin."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from auditkit.data.ingest import ingest_with_plugin
from auditkit.data.synth.generate import SyntheticSource
from auditkit.errors import AuditkitError

PLUGIN = '''
import shutil
from pathlib import Path

from auditkit import DatasetSource


class CopySource(DatasetSource):
    """A source whose distributed layout is already auditkit's: ingesting is copying."""

    def load(self, out, root, demographics=None, n_jobs=-1):
        shutil.copytree(Path(root), Path(out))
        return Path(out)


class BrokenSource(DatasetSource):
    def load(self, out, root, **options):
        raise ValueError("cannot parse labels.csv")


class GarbageSource(DatasetSource):
    def load(self, out, root, **options):
        Path(out).mkdir(parents=True)
        (Path(out) / "dataset.json").write_text("{}")
        return Path(out)
'''


@pytest.fixture()
def plugin_path(tmp_path: Path) -> Path:
    """A folder that, on PYTHONPATH, installs three dataset plugins (a module and its dist-info entry points)."""
    site = tmp_path / "site"
    dist = site / "fake_sources-0.1.dist-info"
    dist.mkdir(parents=True)
    (site / "fake_sources.py").write_text(PLUGIN)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fake-sources\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[auditkit.datasets]\ncopyds = fake_sources:CopySource\n"
                                           "broken = fake_sources:BrokenSource\ngarbage = fake_sources:GarbageSource\n")
    return site


def _ingest(site: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run([sys.executable, "-m", "auditkit", "ingest", *args], capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.slow
def test_a_plugin_source_ingests_through_the_cli(plugin_path: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    res = _ingest(plugin_path, "copyds", str(tiny_dataset), "--out", str(tmp_path / "out"))
    assert res.returncode == 0, res.stderr
    assert "dataset written to" in res.stdout and (tmp_path / "out" / "dataset.json").is_file()


@pytest.mark.slow
def test_plugin_failures_are_one_line_errors(plugin_path: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    broken = _ingest(plugin_path, "broken", str(tiny_dataset), "--out", str(tmp_path / "b"))
    assert broken.returncode != 0 and "Traceback" not in broken.stderr
    assert "dataset plugin 'broken' failed: ValueError: cannot parse labels.csv" in broken.stderr
    garbage = _ingest(plugin_path, "garbage", str(tiny_dataset), "--out", str(tmp_path / "g"))
    assert garbage.returncode != 0 and "Traceback" not in garbage.stderr
    assert "subjects.parquet: file is missing" in garbage.stderr  # what it wrote is checked like any dataset
    unknown = _ingest(plugin_path, "nosuch", str(tiny_dataset), "--out", str(tmp_path / "u"))
    assert unknown.returncode != 0 and "unknown source 'nosuch'" in unknown.stderr
    assert "bp4d, disfa" in unknown.stderr and "copyds" in unknown.stderr


@pytest.mark.slow
def test_the_synthetic_source_refuses_to_ingest(tmp_path: Path) -> None:
    with pytest.raises(AuditkitError, match="generated, not ingested"):
        SyntheticSource().load(tmp_path / "out", root=tmp_path)
    with pytest.raises(AuditkitError, match="generated, not ingested"):
        ingest_with_plugin("synthetic", tmp_path, tmp_path / "out")
