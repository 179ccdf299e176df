"""The built wheel works outside the checkout: templates and entry points travel with it (a regular install)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_installed_in_a_fresh_virtualenv_runs_an_audit_and_writes_the_report(audit_dataset: Path,
                                                                                   tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(dist)], capture_output=True, text=True, cwd=tmp_path)
    assert build.returncode == 0, build.stderr
    wheel = next(dist.glob("auditkit-*.whl"))
    # the dependencies come from this interpreter's environment, wherever it is (a virtualenv, the system Python, a
    # user site): a .pth in the new venv lists its package folders after the venv's own (a path line does not run
    # the .pth files there, so the checkout's editable install stays out); auditkit itself only from the wheel
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(system_site_packages=False, with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    paths = sysconfig.get_paths()
    deps = dict.fromkeys(d for d in [*site.getsitepackages(), paths["purelib"], paths["platlib"],
                                     site.getusersitepackages()] if Path(d).is_dir())
    Path(own, "_test_dependencies.pth").write_text("\n".join(deps) + "\n")
    install = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile", "-q", "--target",
                              own, str(wheel)], capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stderr
    where = subprocess.run([str(python), "-c", "import auditkit, sys; print(auditkit.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path)
    assert Path(where.stdout.strip()).is_relative_to(env_dir), where.stdout + where.stderr  # not the checkout
    out = tmp_path / "audit"
    audit = subprocess.run([str(python), "-m", "auditkit", "gap", "--attr", "gender", "--data", str(audit_dataset),
                            "--out", str(out), "--preset", "smoke", "--repeats", "1", "--train", "2", "--val", "1",
                            "--jobs", "1", "--normalizer", "oracle"], capture_output=True, text=True, cwd=tmp_path)
    assert audit.returncode == 0, audit.stderr
    assert "code differs from this release's" not in audit.stderr  # the record of released code travels with it
    assert (Path(where.stdout.strip()).parent / "cache_versions.json").is_file()
    html = (out / "report.html").read_text()
    assert html.rstrip().endswith("</html>") and "oracle" in html and (out / "summary.md").is_file()
    # the kernels' C source travels in the wheel and builds where a compiler is found
    kernels = subprocess.run([str(python), "-c", "from auditkit.classifiers import lenet_fused as f; "
                              "print(f.SOURCE.is_file(), f.available(), f.unavailable_reason())"],
                             capture_output=True, text=True, cwd=tmp_path,
                             env={**os.environ, "AUDITKIT_CACHE": str(tmp_path / "cache")})
    assert kernels.stdout.startswith("True"), kernels.stdout + kernels.stderr
    if shutil.which("cc") or shutil.which("gcc"):
        assert kernels.stdout.split()[1] == "True", kernels.stdout
    plugins = subprocess.run([str(python), "-m", "auditkit", "plugins"], capture_output=True, text=True, cwd=tmp_path)
    assert "oracle" in plugins.stdout and "deepfn" in plugins.stdout
