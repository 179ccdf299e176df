"""Cached and resumed outputs carry the version of the code that made them, and that version cannot go stale.

auditkit/cache_versions.json records, per code family (auditkit.provenance.CODE_FAMILIES), the hand-bumped
CACHE_VERSION and the digest of the family's sources. Changing a family's code without bumping fails here; so does a
bump not yet recorded. The record ships with the package: a modified checkout's caches follow its code
(provenance.modified_code). To record after a bump (or after a change that cannot change outputs, e.g. a rename):
`python -m tests.test_cache_versions > auditkit/cache_versions.json` (from the repository root).
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

import auditkit
from auditkit.normalizers.deepfn import train as deepfn_train
from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer
from auditkit.provenance import CODE_FAMILIES, family_digest, source_digest

RECORD = Path(auditkit.__file__).with_name("cache_versions.json")


def current() -> dict[str, dict]:
    """Each family's version (read from its module) and source digest, as the record holds them."""
    out = {}
    for family, (where, _) in CODE_FAMILIES.items():
        module, name = where.split(":")
        out[family] = {"version": getattr(importlib.import_module(module), name), "digest": family_digest(family)}
    return out


@pytest.mark.parametrize("family", sorted(CODE_FAMILIES))
def test_code_changes_come_with_a_version_bump(family: str) -> None:
    recorded, now = json.loads(RECORD.read_text())[family], current()[family]
    where = CODE_FAMILIES[family][0]
    if now["version"] == recorded["version"]:
        assert now["digest"] == recorded["digest"], (
            f"{family}: its code changed ({', '.join(CODE_FAMILIES[family][1])}) but {where} is still "
            f"{now['version']}: bump it so caches and resumed audits made by the old code are not reused (or, if the "
            f"change cannot change outputs, record the new digest: see this file's docstring)")
    else:
        pytest.fail(f"{family}: {where} is {now['version']}, recorded {recorded['version']}: record the bump (see "
                    "this file's docstring)")


def test_every_family_is_recorded() -> None:
    assert set(json.loads(RECORD.read_text())) == set(CODE_FAMILIES)


def test_the_digest_ignores_comments_and_docstrings_but_not_code(tmp_path: Path) -> None:
    a = tmp_path / "a.py"
    a.write_text('"""Doc."""\nX = 1  # one\n')
    before = source_digest([a])
    a.write_text('"""Other words."""\n# a new comment\nX = 1\n')
    assert source_digest([a]) == before
    a.write_text('"""Doc."""\nX = 2\n')
    assert source_digest([a]) != before
    c = tmp_path / "k.c"
    c.write_text("int f(void) { return 1; }\n")
    first = source_digest([c])
    c.write_text("int f(void) { return 2; }\n")
    assert source_digest([c]) != first


def test_the_deepfn_weight_key_follows_the_training_code_version(monkeypatch: pytest.MonkeyPatch) -> None:
    config = deepfn_train.TrainConfig()
    before = deepfn_train.cache_key("amortized", config, "t", {"s": "d"})
    monkeypatch.setattr(deepfn_train, "CACHE_VERSION", deepfn_train.CACHE_VERSION + 1)
    assert deepfn_train.cache_key("amortized", config, "t", {"s": "d"}) != before


def test_plugins_expose_their_code_version_for_cache_keys() -> None:
    from auditkit.plugins import code_version

    assert code_version("normalizer", "deepfn") == DeepFNNormalizer.cache_version
    assert DeepFNNormalizer.cache_version.startswith(f"{deepfn_train.CACHE_VERSION}.")
    assert code_version("classifier", "lenet5") == str(
        importlib.import_module("auditkit.classifiers.lenet").CACHE_VERSION
    )


def test_weights_load_as_plain_data_and_a_file_that_runs_code_is_trained_again(tmp_path: Path,
                                                                              capsys: pytest.CaptureFixture) -> None:
    good = tmp_path / "good.pt"
    deepfn_train.save_atomic({"model": {"w": torch.zeros(2)}, "preset": "lite", "losses": [0.5], "n_subjects": None,
                              "config": {"betas": (0.5, 0.999)}}, good)
    assert deepfn_train.load_state(good)["losses"] == [0.5]

    class Payload:  # unpickling this would call os.system; weights_only refuses it
        def __reduce__(self):
            import os

            return (os.system, ("echo should-not-run",))

    evil = tmp_path / "evil.pt"
    torch.save({"model": {}, "payload": Payload()}, evil)
    assert deepfn_train.load_state(evil) is None
    err = capsys.readouterr()
    assert "should-not-run" not in err.out and f"{evil}: unreadable or not plain weights" in err.err
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a torch file")
    assert deepfn_train.load_state(broken) is None


@pytest.mark.slow
def test_a_cached_weights_file_that_will_not_load_is_trained_again(tmp_path: Path) -> None:
    norm = DeepFNNormalizer(preset="lite", iterations=2, cache_dir=tmp_path)
    faces = np.random.default_rng(0).integers(0, 255, (6, 64, 64), dtype=np.uint8)
    norm.fit(faces, {"a": faces, "b": faces})
    [weights] = [p for p in tmp_path.glob("*.pt") if not p.name.endswith(".ckpt.pt")]
    weights.write_bytes(b"damaged")
    again = DeepFNNormalizer(preset="lite", iterations=2, cache_dir=tmp_path)
    again.fit(faces, {"a": faces, "b": faces})
    assert again.cache_hits == 0 and deepfn_train.load_state(weights) is not None


if __name__ == "__main__":
    sys.stdout.write(json.dumps(current(), indent=2) + "\n")


def test_a_modified_checkout_keys_caches_by_its_code_and_says_so(monkeypatch: pytest.MonkeyPatch,
                                                                 capsys: pytest.CaptureFixture) -> None:
    """Code changed without a bump (the record's digest differs at the same version): the plugin's code version and
    DeepFN's weight key follow the code, so weights and faces made by the released code are not reused; one warning
    per family. Released code keeps its plain version and keys."""
    from auditkit import provenance
    from auditkit.plugins import code_version

    config = deepfn_train.TrainConfig()
    released = deepfn_train.cache_key("amortized", config, "t", {"s": "d"})
    assert code_version("normalizer", "histeq") == "1" and "warning" not in capsys.readouterr().err
    record = json.loads(RECORD.read_text())
    for family in ("histeq", "deepfn-weights"):
        record[family] = {**record[family], "digest": "0" * 16}  # what the release shipped, before the local edit
    monkeypatch.setattr(provenance, "_recorded", lambda: record)
    monkeypatch.setattr(provenance, "_warned", set())
    assert code_version("normalizer", "histeq") == f"1+{family_digest('histeq')}"
    assert code_version("normalizer", "histeq") == f"1+{family_digest('histeq')}"
    assert deepfn_train.cache_key("amortized", config, "t", {"s": "d"}) != released
    warned = capsys.readouterr().err.splitlines()
    assert len([w for w in warned if "auditkit's histeq code differs from this release's" in w]) == 1
    assert any("deepfn-weights code differs" in w for w in warned)
