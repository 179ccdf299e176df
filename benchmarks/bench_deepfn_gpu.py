"""Benchmark: the paper preset on a GPU, and the paper's per-subject procedure scored against the oracle's ceiling.

Three steps; only the middle one needs the GPU machine (it reads nothing but the exported faces and this repository):

  python benchmarks/bench_deepfn_gpu.py export --out .gpu        # CPU: the template's and three subjects' faces
  python benchmarks/bench_deepfn_gpu.py device --faces .gpu/faces.npz --out $OUT --budget 330
  python benchmarks/bench_deepfn_gpu.py score --faces .gpu/faces.npz --results DIR [--update-readme]

`device` measures the paper model's training step at batch 64 (bf16 autocast as auditkit trains it, TF32, strict
fp32; augmentation on the GPU as in training, and once on the CPU for comparison), the share of the measured matmul
peak those steps reach (FLOPs counted by torch's FlopCounterMode), normalization throughput, and then trains the
paper's procedure (a fresh E, D^x, D^y per subject; Adam 5e-5, batches of 64 + 64, DeepFNNormalizer's per-subject
paper settings) for the three subjects side by side until the time budget runs out, and normalizes all their frames.

`score` reads those frames back on the CPU: the transfer error (grey levels against the ideal face, the same frame
rendered on the template) and the share of the ceiling, (probe on the normalized frames - probe on the originals) /
(probe on the oracle's - probe on the originals), by two linear AU probes: one trained on the template's own frames
(do the outputs read like the template?) and one trained within each condition, one person left out at a time (do
they carry the expression across people, as an audit's classifier needs?).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from auditkit.normalizers.deepfn.augment import augment, preprocess
from auditkit.normalizers.deepfn.model import DeepFN
from auditkit.normalizers.deepfn.presets import PRESETS

ROOT = Path(__file__).resolve().parents[1]
AUS = "AU01,AU02,AU04,AU06,AU12,AU15,AU17"
# the H100 SXM's dense peaks from NVIDIA's datasheet (TFLOP/s), beside the peaks measured in the same run
SPEC_TFLOPS = {"bf16": 989.4, "tf32": 494.7, "fp32": 66.9}


def export_cmd(args: argparse.Namespace) -> dict:
    """Write the template's and the evaluated subjects' faces (those of `bench_deepfn.py compare`) to one npz."""
    from auditkit.data import load_dataset
    from auditkit.data.synth.default import ensure_default_dataset
    from auditkit.data.template import select_template

    ds = load_dataset(args.data or ensure_default_dataset())
    scope = list(ds.subjects.loc[ds.subjects["dataset"] == "bp4d-synth", "subject"])
    template = select_template(ds, scope)
    others = [s for s in scope if s != template]
    picked = [str(s) for s in np.random.default_rng(0).choice(others, args.subjects, replace=False)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {"template": ds.faces_of(template), **{f"subject{i}": ds.faces_of(s) for i, s in enumerate(picked)}}
    np.savez(out / "faces.npz", names=np.array([template, *picked]), **arrays)
    return {"template": template, "subjects": picked, "file": str(out / "faces.npz")}


DEV = torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _sync() -> None:
    if DEV.type == "cuda":
        torch.cuda.synchronize()


def _precision(mode: str) -> contextlib.AbstractContextManager:
    """Set TF32 use for `mode` and return the autocast context it trains under.

    bf16: autocast, as auditkit trains on a GPU, with PyTorch's defaults for the rest; tf32: fp32 tensors, TF32 tensor
    cores for matmuls and convolutions; fp32: no TF32 anywhere.
    """
    if DEV.type != "cuda":
        return contextlib.nullcontext()
    torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
    torch.backends.cudnn.allow_tf32 = mode != "fp32"
    return torch.autocast("cuda", dtype=torch.bfloat16) if mode == "bf16" else contextlib.nullcontext()


def matmul_peak(mode: str, n: int = 8192, reps: int = 10) -> float:
    """Measured TFLOP/s of an n x n x n matrix product on random data (mean of `reps` after 3 warm-ups)."""
    _precision(mode)
    dtype = torch.bfloat16 if mode == "bf16" else torch.float32
    a, b = torch.randn(n, n, device=DEV, dtype=dtype), torch.randn(n, n, device=DEV, dtype=dtype)
    for _ in range(3):
        a @ b
    _sync()
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    _sync()
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e12


def step_flops(preset: str, batch: int) -> float:
    """FLOPs of one Eq. 1 step (forward and backward of both reconstructions), counted on the meta device."""
    from torch.utils.flop_counter import FlopCounterMode

    p = PRESETS[preset]
    model = DeepFN(p).to("meta")
    x = torch.rand(batch, 1, p.size, p.size, device="meta")
    with FlopCounterMode(display=False) as counter:
        loss = (model.reconstruct_subject(x, None) - x).abs().mean() + (model.reconstruct_template(x) - x).abs().mean()
        loss.backward()
    return float(counter.get_total_flops())


def step_time(preset: str, faces: torch.Tensor, mode: str, batch: int = 64, steps: int = 20, warmup: int = 5,
              augment_on: torch.device = DEV) -> float:
    """Mean seconds of one training step as auditkit trains it (augmentation included)."""
    dev = DEV
    torch.manual_seed(0)
    model = DeepFN(PRESETS[preset]).to(dev).to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    pool = faces.to(augment_on)
    autocast = _precision(mode)
    times = []
    for i in range(warmup + steps):
        _sync()
        start = time.perf_counter()
        idx = torch.randint(0, len(pool), (2 * batch,), generator=gen).to(pool.device)
        y_in, y_out = augment(pool[idx[:batch]], gen)
        x_in, x_out = augment(pool[idx[batch:]], gen)
        y_in, y_out, x_in, x_out = (t.to(dev).contiguous(memory_format=torch.channels_last)
                                    for t in (y_in, y_out, x_in, x_out))
        with autocast:
            loss = (model.reconstruct_subject(x_in, None).float() - x_out).abs().mean() + \
                (model.reconstruct_template(y_in).float() - y_out).abs().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()  # training reads the loss every step
        _sync()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    del model, opt
    if DEV.type == "cuda":
        torch.cuda.empty_cache()
    return float(np.mean(times))


def device_cmd(args: argparse.Namespace) -> dict:
    """Step times, peaks and the side-by-side per-subject training (the GPU part); writes device.json as it goes."""
    from auditkit.normalizers.deepfn.train import normalize_faces

    t0 = time.time()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    if DEV.type != "cuda" and args.preset == "paper":
        raise SystemExit("bench_deepfn_gpu.py device: no CUDA device (on a CPU, try --preset lite as a dry run)")
    p = PRESETS[args.preset]
    result: dict = {"benchmark": "deepfn-paper-gpu", "preset": args.preset, "torch": torch.__version__,
                    "gpu": torch.cuda.get_device_name(0) if DEV.type == "cuda" else None, "cpus": os.cpu_count()}

    def save() -> None:
        (out_dir / "device.json").write_text(json.dumps(result, indent=2))

    data = np.load(args.faces)
    faces = preprocess(data["template"], p.size)
    n = 8192 if DEV.type == "cuda" else 1024
    peaks = {mode: matmul_peak(mode, n) for mode in ("bf16", "tf32", "fp32")}
    result["matmul_peak_tflops_measured"] = {k: round(v, 1) for k, v in peaks.items()}
    result["matmul_peak_tflops_spec"] = SPEC_TFLOPS
    flops = step_flops(args.preset, 64)
    result["step_tflop_batch64"] = round(flops / 1e12, 3)
    save()
    steps = {}
    for mode, aug in (("bf16", DEV), ("tf32", DEV), ("fp32", DEV), ("bf16", torch.device("cpu"))):
        label = mode if aug == DEV else f"{mode}, augmentation on the CPU"
        secs = step_time(args.preset, faces, mode, augment_on=aug, steps=args.steps)
        achieved = flops / secs / 1e12
        steps[label] = {"s_per_step": round(secs, 4), "tflops": round(achieved, 2),
                        "share_of_measured_peak": round(achieved / peaks[mode], 3),
                        "share_of_spec_peak": round(achieved / SPEC_TFLOPS[mode], 3)}
        result["steps_batch64"] = steps
        save()
    _precision("bf16")
    model = DeepFN(p).to(DEV).eval()
    normalize_faces(model, data["template"][:64])
    _sync()
    start = time.perf_counter()
    normalize_faces(model, np.concatenate([data["template"]] * 4), batch=256)
    _sync()
    result["normalize_frames_per_s"] = round(4 * len(data["template"]) / (time.perf_counter() - start), 1)
    del model
    result["setup_s"] = round(time.time() - t0, 1)
    save()
    # the subjects train side by side, one process each, until the deadline
    deadline = t0 + args.budget
    k = len(data["names"]) - 1
    procs = [subprocess.Popen([sys.executable, __file__, "train-one", "--faces", args.faces, "--index", str(i),
                               "--preset", args.preset, "--deadline", str(deadline), "--out", str(out_dir)],
                              env={**os.environ, "OMP_NUM_THREADS": str(max(1, (os.cpu_count() or 2) // k))})
             for i in range(k)]
    result["training"] = {"return_codes": [proc.wait() for proc in procs]}
    for i in range(k):
        info = out_dir / f"subject{i}.json"
        if info.exists():
            result["training"][f"subject{i}"] = json.loads(info.read_text())
    result["total_s"] = round(time.time() - t0, 1)
    save()
    return result


class _Deadline(Exception):
    pass


def train_one_cmd(args: argparse.Namespace) -> dict:
    """One subject's paper procedure until the deadline; writes subjectI.npz (normalized frames) and subjectI.json."""
    from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer
    from auditkit.normalizers.deepfn.train import fit_model, mean_code, normalize_faces

    data = np.load(args.faces)
    name = str(data["names"][args.index + 1])
    config = DeepFNNormalizer(mode="per-subject", preset=args.preset).config  # the settings auditkit runs it with
    size = PRESETS[args.preset].size
    template, subject = preprocess(data["template"], size), preprocess(data[f"subject{args.index}"], size)
    torch.manual_seed(config.seed)  # as train() does
    model = DeepFN(PRESETS[args.preset]).to(DEV)
    state = {"done": 0, "loss": float("nan"), "marks": []}
    start = time.time()

    def stop_at_deadline(done: int, total: int, loss: float) -> None:
        state["done"], state["loss"] = done, loss
        if done % 500 == 0:
            state["marks"].append((done, round(time.time() - start, 1), round(loss, 4)))
        if time.time() > args.deadline:
            raise _Deadline

    with contextlib.suppress(_Deadline):
        fit_model(model, template, [subject], None, config, config.iterations, None, stop_at_deadline)
    model.eval()
    train_s = time.time() - start
    faces = data[f"subject{args.index}"]
    plain = normalize_faces(model, faces, out_size=(128, 128))
    shift = mean_code(model, data["template"]) - mean_code(model, faces)
    recentered = normalize_faces(model, faces, out_size=(128, 128), shift=shift)
    out = Path(args.out)
    np.savez_compressed(out / f"subject{args.index}.npz", plain=plain, recentered=recentered)
    info = {"subject": name, "iterations": state["done"], "last_loss": state["loss"], "marks": state["marks"],
            "train_s": round(train_s, 1), "s_per_iteration": round(train_s / max(1, state["done"]), 4),
            "config": {k: getattr(config, k) for k in ("batch_size", "lr", "betas", "warp", "seed")}}
    (out / f"subject{args.index}.json").write_text(json.dumps(info))
    return info


def template_probe(train_x: np.ndarray, train_frames, tests: dict[str, tuple[np.ndarray, object]],
                   aus: list[str]) -> dict[str, float]:
    """Mean balanced accuracy over `aus` of the AU probe (bench_deepfn.py) trained on the template's frames."""
    from bench_deepfn import probe_features, probe_model
    from sklearn.metrics import balanced_accuracy_score

    X = probe_features(train_x)
    tests_small = {k: (probe_features(x), f) for k, (x, f) in tests.items()}
    scores: dict[str, list[float]] = {k: [] for k in tests}
    for au in aus:
        y = train_frames[au].to_numpy()
        model = probe_model().fit(X[y >= 0], y[y >= 0])
        for k, (x, f) in tests_small.items():
            t = f[au].to_numpy()
            scores[k].append(float(balanced_accuracy_score(t[t >= 0], model.predict(x[t >= 0]))))
    return {k: round(float(np.mean(v)), 3) for k, v in scores.items()}


def people_probe(tests: dict[str, tuple[np.ndarray, object]], aus: list[str]) -> dict[str, float]:
    """Mean balanced accuracy of the same probe trained and tested within each condition's own images, one person
    left out at a time: what a classifier trained on normalized faces (as in an audit) reads across people."""
    from bench_deepfn import probe_features, probe_model
    from sklearn.metrics import balanced_accuracy_score

    out = {}
    for label, (images, frames) in tests.items():
        X = probe_features(images)
        who = frames["subject"].to_numpy()
        scores = []
        for person in np.unique(who):
            for au in aus:
                y = frames[au].to_numpy()
                tr, te = (who != person) & (y >= 0), (who == person) & (y >= 0)
                if len(np.unique(y[tr])) < 2 or len(np.unique(y[te])) < 2:
                    continue
                model = probe_model().fit(X[tr], y[tr])
                scores.append(float(balanced_accuracy_score(y[te], model.predict(X[te]))))
        out[label] = round(float(np.mean(scores)), 3)
    return out


def score_cmd(args: argparse.Namespace) -> dict:
    """Transfer error and share of the ceiling of the GPU run's normalized frames (and of CPU baselines, if asked)."""
    import pandas as pd

    from auditkit.data import load_dataset
    from auditkit.data.synth.default import ensure_default_dataset
    from auditkit.normalizers.histeq import equalize
    from auditkit.normalizers.oracle import OracleNormalizer

    results = Path(args.results)
    device = json.loads((results / "device.json").read_text())
    data = np.load(args.faces)
    names = [str(n) for n in data["names"]]
    template, subjects = names[0], names[1:]
    ds = load_dataset(args.data or ensure_default_dataset())
    oracle = OracleNormalizer()
    oracle.bind(ds, template)
    frames = {s: ds.frames[ds.frames["subject"] == s] for s in names}
    conditions: dict[str, dict[str, np.ndarray]] = {"originals (histogram-equalized)": {}, "oracle": {}}
    for i, s in enumerate(subjects):
        conditions["originals (histogram-equalized)"][s] = equalize(data[f"subject{i}"])
        conditions["oracle"][s] = oracle.transform(s, data[f"subject{i}"])
    iterations = {}
    for i, s in enumerate(subjects):
        got = results / f"subject{i}.npz"
        if got.exists():
            out = np.load(got)
            info = json.loads((results / f"subject{i}.json").read_text())
            iterations[s] = info["iterations"]
            conditions.setdefault("paper procedure, GPU", {})[s] = out["plain"]
            conditions.setdefault("paper procedure, GPU, recentered", {})[s] = out["recentered"]
    if args.cpu_baselines:
        conditions.update(cpu_baselines(ds, template, subjects, data))
    every = slice(None, None, 15)  # the error on every 15th frame, as `bench_deepfn.py compare` reads it
    rows = {}
    tests = {}
    for label, per in conditions.items():
        if len(per) != len(subjects):
            continue
        mae = {s: round(float(np.abs(per[s][every].astype(float) - conditions["oracle"][s][every].astype(float))
                              .mean()), 2) for s in subjects}
        rows[label] = {"mae": mae, "mae_mean": round(float(np.mean(list(mae.values()))), 2)}
        tests[label] = (np.concatenate([per[s] for s in subjects]), pd.concat([frames[s] for s in subjects]))
    aus = args.aus.split(",")
    for name, probe in (("template_probe", template_probe(equalize(data["template"]), frames[template], tests, aus)),
                        ("people_probe", people_probe(tests, aus))):
        floor, ceiling = probe["originals (histogram-equalized)"], probe["oracle"]
        for label in rows:
            rows[label][name] = probe[label]
            rows[label][f"{name}_share_of_ceiling"] = round((probe[label] - floor) / (ceiling - floor), 3)
    return {"benchmark": "deepfn-paper-gpu-scored", "template": template, "subjects": subjects,
            "gpu_iterations": iterations, "device": device, "rows": rows}


def cpu_baselines(ds, template: str, subjects: list[str], data) -> dict[str, dict[str, np.ndarray]]:
    """The same three subjects through the CPU presets: lite per-subject (the paper's procedure at lite size) and the
    amortized CPU default (fitted on every subject of the source dataset)."""
    from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer

    tpl = ds.faces_of(template)
    out: dict[str, dict[str, np.ndarray]] = {}
    per = DeepFNNormalizer(mode="per-subject", preset="lite").fit(tpl, {s: ds.faces_of(s) for s in subjects})
    out["lite per-subject, CPU (1,500 it)"] = {s: per.transform(s, ds.faces_of(s)) for s in subjects}
    scope = [s for s in ds.subjects.loc[ds.subjects["dataset"] == "bp4d-synth", "subject"] if s != template]
    amortized = DeepFNNormalizer().fit(tpl, {s: ds.faces_of(s) for s in scope})
    out["lite amortized CPU default"] = {s: amortized.transform(s, ds.faces_of(s)) for s in subjects}
    return out


def main() -> None:
    """Dispatch the step and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("export")
    e.add_argument("--data", help="dataset directory (default: the embedded synthetic default)")
    e.add_argument("--out", default=".gpu")
    e.add_argument("--subjects", type=int, default=3)
    d = sub.add_parser("device")
    d.add_argument("--faces", required=True)
    d.add_argument("--out", required=True)
    d.add_argument("--budget", type=float, default=330.0, help="seconds from start until training stops")
    d.add_argument("--steps", type=int, default=20, help="timed steps per precision")
    d.add_argument("--preset", default="paper", help="lite: a dry run of the whole step on a CPU")
    t = sub.add_parser("train-one")
    t.add_argument("--faces", required=True)
    t.add_argument("--index", type=int, required=True)
    t.add_argument("--deadline", type=float, required=True)
    t.add_argument("--preset", default="paper")
    t.add_argument("--out", required=True)
    s = sub.add_parser("score")
    s.add_argument("--faces", required=True)
    s.add_argument("--results", required=True, help="the folder `device` wrote")
    s.add_argument("--data")
    s.add_argument("--cpu-baselines", action="store_true", help="also score the lite per-subject and amortized models")
    s.add_argument("--aus", default=AUS)
    args = parser.parse_args()
    run = {"export": export_cmd, "device": device_cmd, "train-one": train_one_cmd, "score": score_cmd}[args.cmd]
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
