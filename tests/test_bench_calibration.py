"""The calibration benchmark's null data: random coin groups over the skin-type audit's people, drawn anew per audit,
and the null normalizer registered as a plugin from the benchmark's folder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _coin_dataset():
    sys.path.insert(0, str(BENCH))
    try:
        from bench_calibration import coin_dataset
    finally:
        sys.path.remove(str(BENCH))
    return coin_dataset


@pytest.mark.slow
def test_coin_groups_match_the_skin_type_groups_in_size_and_differ_per_draw(audit_dataset: Path,
                                                                            tmp_path: Path) -> None:
    coin_dataset = _coin_dataset()
    subjects = pd.read_parquet(audit_dataset / "subjects.parquet")
    skin = subjects["fitzpatrick"].astype("Int64")
    darker = skin.isin([5, 6]).fillna(False).to_numpy()
    members = (darker | skin.isin([1, 2]).fillna(False).to_numpy())
    draws = []
    for draw in (0, 1):
        out = coin_dataset(audit_dataset, tmp_path / f"coin-{draw}", draw)
        coin = pd.read_parquet(out / "subjects.parquet")["coin"]
        assert coin.notna().to_numpy().tolist() == members.tolist()  # only the skin-type audit's people
        assert (coin == "heads").sum() == darker.sum()  # as many heads as darker-skinned people (per source)
        assert (out / "frames.parquet").is_symlink()  # the big files are linked, not copied
        draws.append(coin.fillna("-").tolist())
    assert draws[0] != draws[1]


@pytest.mark.slow
def test_the_null_normalizer_is_found_as_a_plugin_from_the_benchmark_folder() -> None:
    code = ("from auditkit.plugins import make_normalizer; import numpy as np; "
            "n = make_normalizer('jitter', seed=3); f = np.full((2, 8, 8), 100, np.uint8); "
            "out = n.fit(f, {'s': f}).transform('s', f); "
            "print(int(np.abs(out.astype(int) - 100).max()), out.dtype)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(BENCH / "null_plugin")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "uint8"]  # at most one grey level away, faces kept as uint8
