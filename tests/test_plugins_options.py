"""Normalizer settings from the command line: NAME.KEY=VALUE, checked against what each plugin accepts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditkit.contract import Normalizer
from auditkit.errors import AuditkitError
from auditkit.plugins import normalizer_options, parse_normalizer_options
from tests.helpers import one_line, run_cli


def test_options_are_parsed_typed_and_grouped_by_normalizer() -> None:
    got = parse_normalizer_options(["deepfn.mode=per-subject", "deepfn.iterations=300", "deepfn.lr=1e-3",
                                    "deepfn.center=false"], ("none", "deepfn"))
    assert got == {"deepfn": {"mode": "per-subject", "iterations": 300, "lr": 1e-3, "center": False}}
    assert {"mode", "preset", "iterations", "gradient_weight"} <= set(normalizer_options("deepfn"))
    assert "seed" not in normalizer_options("deepfn")  # the runner sets it


@pytest.mark.parametrize("item, message", [
    ("deepfn.bogus=1", "deepfn has no setting 'bogus' (valid: mode, preset, iterations"),
    ("deepfn.mode", "expected NAME.KEY=VALUE"),
    ("mode=amortized", "expected NAME.KEY=VALUE"),
    ("histeq.x=1", "'histeq' is not one of this run's normalizers (none, deepfn)"),
])
def test_bad_options_are_one_line_errors(item: str, message: str) -> None:
    with pytest.raises(AuditkitError) as info:
        parse_normalizer_options([item], ("none", "deepfn"))
    assert message in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_gap_passes_settings_to_the_normalizer_and_refuses_bad_ones(audit_dataset: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUDITKIT_CACHE", str(tmp_path / "cache"))
    base = [
        "gap", "--attr", "gender", "--data", str(audit_dataset), "--preset", "smoke", "--repeats", "1", "--train",
        "2", "--val", "1", "--jobs", "1", "--normalizer", "deepfn",
    ]
    bad = run_cli(*base, "--out", str(tmp_path / "bad"), "--normalizer-option", "deepfn.iterations=3",
              "--normalizer-option", "deepfn.mode=sideways")
    assert (
        "deepfn.mode takes one of amortized, per-subject, got 'sideways'" in one_line(bad)
        and not (tmp_path / "bad").exists()
    )
    ok = run_cli(*base, "--out", str(tmp_path / "ok"), "--normalizer-option", "deepfn.iterations=3",
             "--normalizer-option", "deepfn.batch_size=8")
    assert ok.returncode == 0, ok.stderr
    settings = json.loads((tmp_path / "ok" / "normalizers.json").read_text())["deepfn"]
    assert settings["iterations"] == 3 and settings["batch_size"] == 8
    assert json.loads((tmp_path / "ok" / "run.json").read_text())["config"]["normalizer_options"] == \
        {"deepfn": {"iterations": 3, "batch_size": 8}}


def test_unknown_settings_are_refused_in_python_too() -> None:
    from auditkit.plugins import make_normalizer

    with pytest.raises(AuditkitError, match="normalizer 'histeq': unknown setting 'tiles' \\(valid: none\\)"):
        make_normalizer("histeq", tiles=8)
    with pytest.raises(AuditkitError, match="normalizer 'deepfn': unknown setting 'iters' \\(valid: mode, preset"):
        make_normalizer("deepfn", iters=10)
    assert make_normalizer("none", seed=3, progress=None) is not None  # what the runner passes every normalizer


class NotANormalizer(Normalizer):
    """Has fit but no transform."""

    def __init__(self, seed: int = 0, progress: object = None) -> None:
        pass

    def fit(self, template_faces, subject_faces):
        return self


def test_a_plugin_without_its_interface_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib.metadata import EntryPoint

    from auditkit import plugins

    real = plugins.available
    monkeypatch.setattr(plugins, "available", lambda kind: {**real(kind), "broken": EntryPoint(
        "broken", "tests.test_plugins_options:NotANormalizer", "auditkit.normalizers")})
    with pytest.raises(
        AuditkitError,
        match="normalizer plugin 'broken' \\(tests.test_plugins_options:NotANormalizer\\) "
        "does not implement the normalizer interface: no transform method",
    ):
        plugins.make_normalizer("broken")
