"""`auditkit plan`: counts of trainings and DeepFN fits, and the cost arithmetic from the measured rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from auditkit.classifiers.lenet import IMAGES_PER_CORE_S as LENET_IMAGES_PER_CORE_S
from auditkit.data.dataset import load_dataset
from auditkit.normalizers.deepfn.normalizer import STEP_S_2_CORES as DEEPFN_STEP_S_2_CORES
from auditkit.normalizers.deepfn.normalizer import STEP_S_GPU as DEEPFN_STEP_S_GPU
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.costs import estimate, training_images
from auditkit.protocol.plan import make_plan
from tests.helpers import run_cli


def _plan(data: Path, **kw):
    cfg = AuditConfig.from_preset("smoke", data=str(data), attr=("gender",), n_train=2, n_val=1, **kw)
    return make_plan(cfg, load_dataset(cfg.data))


def test_estimate_counts_and_costs(audit_dataset: Path) -> None:
    plan = _plan(audit_dataset, normalizers=("deepfn",), normalizer_options={"deepfn": {"iterations": 100}})
    images = training_images(plan)
    assert len(images) == len(plan.tasks) and all(n == 2 * 30 for n in images)  # 2 train subjects x 30 frames
    lenet, deepfn = estimate(plan)
    assert lenet.count == 2 * len(plan.tasks)  # none and deepfn
    assert lenet.cpu_core_hours == pytest.approx(2 * sum(images) * plan.config.epochs / LENET_IMAGES_PER_CORE_S / 3600)
    assert deepfn.count == 1 and deepfn.cpu_core_hours == pytest.approx(100 * DEEPFN_STEP_S_2_CORES["lite"] * 2 / 3600)
    per_subject = _plan(audit_dataset, normalizers=("deepfn",),
                        normalizer_options={"deepfn": {"mode": "per-subject", "preset": "paper", "iterations": 10}})
    fits = estimate(per_subject)[1]
    assert fits.count == len(per_subject.scope) and "paper preset" in fits.detail  # one fit per person (the paper's)
    assert fits.gpu_hours == pytest.approx(fits.count * 10 * DEEPFN_STEP_S_GPU["paper"] / 3600)
    assert deepfn.gpu_hours is None and lenet.gpu_hours is None  # measured on a GPU for the paper preset only
    assert len(estimate(_plan(audit_dataset))) == 1  # no DeepFN, no DeepFN line


def test_costs_come_from_the_plugins_hooks(audit_dataset: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from auditkit.classifiers.lenet import LeNetClassifier
    from auditkit.normalizers.histeq import HistEqNormalizer

    def cost(self, n: int) -> dict:
        return {
            "what": "histeq passes",
            "count": n,
            "cpu_core_s": 36.0 * n,
            "gpu_s": None,
            "detail": "d",
            "source": "s",
        }

    monkeypatch.setattr(HistEqNormalizer, "fit_cost", cost, raising=False)
    lines = {line.what: line for line in estimate(_plan(audit_dataset, normalizers=("histeq",)))}
    plan = _plan(audit_dataset, normalizers=("histeq",))
    assert lines["histeq passes"].count == len(plan.scope)
    assert lines["histeq passes"].cpu_core_hours == pytest.approx(len(plan.scope) / 100)
    monkeypatch.setattr(LeNetClassifier, "train_cost", lambda self, images: None)
    assert "LeNet-5 trainings" not in {line.what for line in estimate(plan)}  # cost unknown: no line, no guess


@pytest.mark.slow
def test_plan_command(audit_dataset: Path) -> None:
    res = run_cli(
        "plan", "--attr", "gender", "--data", str(audit_dataset), "--preset", "smoke", "--train", "2", "--val", "1",
        "--normalizer", "deepfn",
    )
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert "LeNet-5 trainings 8" in out and "DeepFN fits 1" in out and "CPU core-hours" in out
    assert "bench_lenet.py --threads 1" in out and "GPU not measured" in out and "GPU-hours" not in out
    # the header counts the subjects the plan covers (one source), not the whole dataset; smoke has no early stopping
    from auditkit.data import load_dataset

    ds = load_dataset(audit_dataset)
    largest = ds.subjects["dataset"].value_counts()
    # (the template subject is in no group)
    assert f"{largest.iloc[0] - 1} of {len(ds.subjects)} subjects in scope (source {largest.index[0]})" in out
    assert "this preset has no early stopping" in out and "early stopping ends many sooner" not in out
    default = " ".join(run_cli("plan", "--attr", "gender", "--data", str(audit_dataset), "--train", "2", "--val",
                           "1").stdout.split())
    assert "early stopping ends many sooner" in default
    paper = run_cli(
        "plan", "--attr", "gender", "--data", str(audit_dataset), "--preset", "smoke", "--train", "2", "--val", "1",
        "--normalizer", "deepfn", "--normalizer-option", "deepfn.mode=per-subject", "--normalizer-option",
        "deepfn.preset=paper",
    )
    out = " ".join(paper.stdout.split())
    assert paper.returncode == 0 and "50,000 iterations each" in out and "GPU-hours for the DeepFN fits" in out
    bad = run_cli("plan", "--attr", "height", "--data", str(audit_dataset))
    assert bad.returncode == 2 and "unknown attribute" in bad.stderr
