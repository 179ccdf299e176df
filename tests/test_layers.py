"""The layer tables behind `auditkit describe`: Table 3's LeNet-5 and the DeepFN presets, and the errors."""

from __future__ import annotations

import pytest

from auditkit.errors import AuditkitError
from auditkit.layers import describe_model


def test_lenet5_table_and_totals() -> None:
    d = describe_model("lenet5")
    assert d.title == "lenet5" and d.input_size == 64 and d.total == 388_564
    assert d.rows[0].layer == "Conv2d" and d.rows[0].output == (62, 62, 6)  # the paper's H, W, C order
    assert describe_model("lenet5", aus=5).total == 388_564 - 7 * 85


def test_deepfn_presets_count_dx_beside_the_blocks() -> None:
    d = describe_model("deepfn", "lite")
    assert d.title == "deepfn (lite)" and set(d.totals) == {"encoder E", "decoder D^y (D^x identical)", "decoder D^x"}
    assert d.total == sum(d.totals.values())
    with pytest.raises(AuditkitError, match="unknown DeepFN preset 'huge'"):
        describe_model("deepfn", "huge")
    with pytest.raises(AuditkitError, match="unknown model 'vgg'"):
        describe_model("vgg")
