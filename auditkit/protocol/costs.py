"""`auditkit plan`: how many trainings and DeepFN fits an audit needs, and what they cost, before submitting it.

Costs are per-step figures measured by the benchmarks on the project machine (AMD EPYC, PyTorch 2.13 CPU); each
constant names the command that measured it. An estimate, not a promise: early stopping ends trainings sooner, other
CPUs are faster or slower. The one GPU figure (the paper preset's step on an H100) was measured on a lent machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from auditkit.protocol.runner import AuditPlan, scope_rows

# LeNet-5 training images per second on one thread, per-epoch validation included:
# `python benchmarks/bench_lenet.py --threads 1` ("fit_now", benchmarks/README.md)
LENET_IMAGES_PER_CORE_S = 7180.0
# DeepFN seconds per training step on 2 CPU threads: `python benchmarks/bench_deepfn.py steps` (benchmarks/README.md)
DEEPFN_STEP_S_2_CORES = {"lite": 0.111, "paper": 37.1}
DEEPFN_BENCH_CORES = 2
# DeepFN seconds per training step on one GPU at the preset's batch (bf16 autocast, as auditkit trains there):
# `python benchmarks/bench_deepfn_gpu.py device` on an NVIDIA H100 80GB HBM3 (benchmarks/README.md)
DEEPFN_STEP_S_GPU = {"paper": 0.0232}
DEEPFN_GPU_NAME = "H100"


@dataclass
class CostLine:
    """One kind of work: how many units, and its estimated CPU core-hours and GPU-hours (None: not measured)."""

    what: str
    count: int
    cpu_core_hours: float
    gpu_hours: float | None
    detail: str
    source: str


def training_images(plan: AuditPlan) -> list[int]:
    """Per training of the plan: training images per epoch (its train subjects' frames, or sequences for
    person-dependent models)."""
    frames = plan.dataset.frames.iloc[scope_rows(plan)]
    subjects, sequences = frames["subject"].to_numpy(), frames["sequence"].to_numpy()
    counts = []
    for task in plan.tasks:
        mask = np.isin(subjects, task.train)
        seqs = (task.sequences or {}).get("train")
        if seqs is not None:
            mask &= np.isin(sequences, seqs)
        counts.append(int(mask.sum()))
    return counts


def deepfn_fits(plan: AuditPlan, options: dict) -> tuple[int, int, str]:
    """(fits, iterations per fit, preset) of the `deepfn` normalizer with these settings, resolved as it will be
    on a machine without a GPU (the submitting machine decides its defaults)."""
    from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer

    params = DeepFNNormalizer(**options).fitted_settings()
    fits = 1 if params["mode"] == "amortized" else len(plan.scope)  # per subject: one template + person model each
    return fits, params["iterations"], params["preset"]


def estimate(plan: AuditPlan) -> list[CostLine]:
    """Cost lines of an audit: LeNet-5 trainings (all normalizers) and DeepFN fits (when `deepfn` runs)."""
    cfg = plan.config
    images = training_images(plan)
    per_normalizer = sum(images) * cfg.epochs / LENET_IMAGES_PER_CORE_S / 3600
    lines = [CostLine("LeNet-5 trainings", len(plan.tasks) * len(cfg.normalizers), per_normalizer * len(cfg.normalizers),
                      None, f"{len(plan.tasks)} per normalizer x {len(cfg.normalizers)}, {cfg.epochs} epochs at most "
                      f"of ~{int(np.mean(images)) if images else 0:,} images",
                      f"{LENET_IMAGES_PER_CORE_S:,.0f} images/s per core (bench_lenet.py --threads 1)")]
    if "deepfn" in cfg.normalizers:
        fits, iterations, preset = deepfn_fits(plan, cfg.normalizer_options.get("deepfn", {}))
        step = DEEPFN_STEP_S_2_CORES.get(preset)
        core_hours = fits * iterations * step * DEEPFN_BENCH_CORES / 3600 if step is not None else float("nan")
        gpu_step = DEEPFN_STEP_S_GPU.get(preset)
        gpu_hours = fits * iterations * gpu_step / 3600 if gpu_step is not None else None
        gpu = (f"{gpu_step} s/step on one {DEEPFN_GPU_NAME} (bench_deepfn_gpu.py device)" if gpu_step is not None
               else "GPU not measured for this preset")
        lines.append(CostLine("DeepFN fits", fits, core_hours, gpu_hours, f"{preset} preset, {iterations:,} iterations each",
                              f"{step} s/step on 2 cores (bench_deepfn.py steps); {gpu}"))
    return lines
