"""Benchmark: DeepFN step time per preset, normalization throughput, and amortized vs per-subject training.

Run: python benchmarks/bench_deepfn.py steps          # training step time of each preset at batch 64 (and 32)
     python benchmarks/bench_deepfn.py compare --data data/synth [--subjects 3] [--iterations 1500] [--no-probe]
     python benchmarks/bench_deepfn.py probe --audit audits/fitzpatrick   # after `auditkit gap ... --normalizer deepfn`
     python benchmarks/bench_deepfn.py default [--iterations 200]   # the CPU default's training step vs the matmul peak
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import tempfile
import time
from dataclasses import replace

import numpy as np
import torch

from auditkit.data import load_dataset
from auditkit.data.template import select_template
from auditkit.normalizers.deepfn.augment import augment
from auditkit.normalizers.deepfn.model import DeepFN
from auditkit.normalizers.deepfn.normalizer import DeepFNNormalizer
from auditkit.normalizers.deepfn.presets import PRESETS
from auditkit.normalizers.deepfn.train import to_device
from auditkit.normalizers.histeq import equalize
from auditkit.protocol.audit_dir import AuditDir


def step_time(preset: str, batch: int, steps: int, amortized: bool) -> float:
    """Mean seconds of one Eq. 1 step (a template batch and a subject batch, augmentation included)."""
    p = PRESETS[preset]
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = DeepFN(p, n_subjects=40 if amortized else None).to(dev)  # channels-last weights, as in training
    opt = torch.optim.Adam(model.parameters(), lr=5e-5, betas=(0.5, 0.999))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 1, p.size, p.size)
    who = torch.randint(0, 40, (batch,), device=dev)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else contextlib.nullcontext()
    times = []
    for i in range(steps + 1):
        start = time.perf_counter()
        xi, xt = augment(x, gen)
        yi, yt = augment(x, gen)
        xi, xt, yi, yt = (to_device(t, dev) for t in (xi, xt, yi, yt))
        with autocast:  # as in training: bf16 on a GPU, full precision on CPU
            loss = (model.reconstruct_subject(xi, who if amortized else None).float() - xt).abs().mean() + \
                (model.reconstruct_template(yi).float() - yt).abs().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if i:  # the first step warms up
            times.append(time.perf_counter() - start)
    return float(np.mean(times))


def default_cmd(args: argparse.Namespace) -> dict:
    """The CPU default's real training loop (fit_model with the amortized defaults: centered, gradient term, BatchNorm,
    augmentation) on random faces: seconds per step, FLOP per step (counted by PyTorch), the fraction of the matmul
    peak on the same threads, and where the time goes (the profiler's top operators)."""
    import sys
    from pathlib import Path

    from torch.utils.flop_counter import FlopCounterMode

    from auditkit.normalizers.deepfn.normalizer import AMORTIZED_DEFAULTS
    from auditkit.normalizers.deepfn.train import TrainConfig, center_codes, fit_model, image_gradient_l1

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_lenet import matmul_peak_gflops

    cfg = replace(TrainConfig(preset="lite"), **{**AMORTIZED_DEFAULTS, "iterations": args.iterations,
                                                 "checkpoint_every": 10**9})
    p = cfg.model_preset
    rng = np.random.default_rng(0)
    faces = [torch.from_numpy(rng.random((300, 1, p.size, p.size), dtype=np.float32)) for _ in range(41)]
    torch.manual_seed(0)
    model = DeepFN(p, n_subjects=40)
    fit_model(model, faces[0], faces[1:], torch.arange(40), cfg, 20)  # warm-up
    start = time.perf_counter()
    fit_model(model, faces[0], faces[1:], torch.arange(40), replace(cfg, seed=1), args.iterations)
    per_step = (time.perf_counter() - start) / args.iterations
    # FLOP of one step's forward and backward as training computes them (the optimizer's few FLOP aside)
    model.train()
    bs, k = cfg.batch_size, cfg.people_per_batch
    x, y = faces[1][:bs], faces[0][:bs]
    who = torch.arange(k).repeat_interleave(bs // k)
    with FlopCounterMode(display=False) as counter:
        xr = model.decode_subject(center_codes(model.encoder.embed(x), k), who)
        yr = model.decode_template(center_codes(model.encoder.embed(y), 1))
        loss = (xr - x).abs().mean() + (yr - y).abs().mean()
        loss = loss + cfg.gradient_weight * (image_gradient_l1(xr, x) + image_gradient_l1(yr, y))
        loss.backward()
    flop = counter.get_total_flops()
    peak = matmul_peak_gflops()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        fit_model(model, faces[0], faces[1:], torch.arange(40), replace(cfg, seed=2), 20)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=12)
    return {"benchmark": "deepfn-default-step", "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "batch": f"{bs} template + {bs} subject images", "iterations_timed": args.iterations,
            "s_per_step": round(per_step, 4), "gflop_per_step": round(flop / 1e9, 3),
            "gflops": round(flop / 1e9 / per_step, 1), "matmul_peak_gflops": round(peak, 1),
            "fraction_of_matmul_peak": round(flop / 1e9 / per_step / peak, 3),
            "fit_s_at_default_iterations": round(per_step * AMORTIZED_DEFAULTS["iterations"], 1),
            "profile": table.splitlines()}


def normalize_rate(preset: str, frames: int) -> float:
    """Frames per second of D^y(E(x)) on 128x128 uint8 faces, preprocessing and resizing back included."""
    from auditkit.normalizers.deepfn.train import normalize_faces

    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = DeepFN(PRESETS[preset]).to(dev).eval()
    faces = np.random.default_rng(0).integers(0, 256, (frames, 128, 128), dtype=np.uint8)
    normalize_faces(model, faces[:8])  # warm-up
    start = time.perf_counter()
    normalize_faces(model, faces, batch=64)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return frames / (time.perf_counter() - start)


def steps_cmd(args: argparse.Namespace) -> dict:
    """Step time and normalization throughput of each preset."""
    out = {
        "benchmark": "deepfn-steps",
        "device": "cuda" if torch.cuda.is_available() else f"cpu x{torch.get_num_threads()}",
        "torch": torch.__version__,
    }
    for preset, batches, steps in (("lite", (32, 64), 30), ("paper", (64,), args.paper_steps)):
        for b in batches:
            out[f"{preset}_batch{b}_s_per_step"] = round(step_time(preset, b, steps, amortized=False), 4)
        out[f"{preset}_normalize_frames_per_s"] = round(normalize_rate(preset, 2048 if preset == "lite" else 256), 1)
    out["paper_50k_iterations_hours"] = round(out["paper_batch64_s_per_step"] * 50_000 / 3600, 1)
    return out


def probe_features(images: np.ndarray) -> np.ndarray:
    """The AU probe's input: each face resized to 32x32 (area), flattened, in [0, 1]."""
    import cv2

    return np.stack([cv2.resize(x, (32, 32), interpolation=cv2.INTER_AREA) for x in images]).reshape(
        len(images), -1) / 255.0


def probe_model():
    """The AU probe: standardized pixels into a class-balanced, strongly regularized logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced"))


def linear_probe(frames, subjects: np.ndarray, images: np.ndarray, aus: list[str]) -> dict[str, float]:
    """Cross-person AU probe: logistic regression on 32x32 pixels, trained on every other person, tested on the rest."""
    from sklearn.metrics import balanced_accuracy_score

    X = probe_features(images)
    people = sorted(set(subjects))
    train_people = np.isin(subjects, people[::2])
    scores = {}
    for au in aus:
        y = frames[au].to_numpy()
        tr, te = train_people & (y >= 0), ~train_people & (y >= 0)
        model = probe_model().fit(X[tr], y[tr])
        scores[au] = round(float(balanced_accuracy_score(y[te], model.predict(X[te]))), 3)
    return scores


def compare_cmd(args: argparse.Namespace) -> dict:
    """Amortized over all subjects vs the paper's per-subject training: seconds per subject, transfer error, AU probe.

    Transfer error: mean absolute error (grey levels, 128x128) of the normalized face against the ideal one, the same
    frame's expression rendered on the template. Each model is scored with and without recentering (same weights).
    """
    from auditkit.data.synth.truth import load_truth

    ds = load_dataset(args.data)
    truth = load_truth(ds)
    scope = list(ds.subjects.loc[ds.subjects["dataset"] == "bp4d-synth", "subject"])
    template = select_template(ds, scope)
    subjects = [s for s in scope if s != template]
    rng = np.random.default_rng(0)
    probe = list(rng.choice(subjects, args.subjects, replace=False))
    faces = {s: ds.faces_of(s) for s in subjects}
    subject_of = ds.frames["subject"].to_numpy()
    picks = {s: np.flatnonzero(subject_of == s)[::15] for s in probe}
    ideal = {s: equalize(truth.render(picks[s], on=template)).astype(float) for s in probe}
    shown = {s: np.asarray(ds.faces[ds.frames["face"].to_numpy()[picks[s]]]) for s in probe}

    def error(norm: DeepFNNormalizer | None) -> dict[str, float]:
        # the normalizer sees all of a person's frames, as in an audit; the error is read on every 15th
        out = {}
        for s in probe:
            got = equalize(shown[s]) if norm is None else norm.transform(s, faces[s])[::15]
            out[s] = round(float(np.abs(got.astype(float) - ideal[s]).mean()), 2)
        return out

    def make(mode: str, recenter: bool, cache: str) -> DeepFNNormalizer:
        iterations = args.iterations if mode == "amortized" else args.per_subject_iterations
        return DeepFNNormalizer(mode=mode, preset="lite", iterations=iterations, cache_dir=cache, recenter=recenter)

    rows: dict[str, dict] = {"no normalization (histogram equalization)": {"mae": error(None)}}
    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        amortized = make("amortized", True, cache).fit(ds.faces_of(template), faces)
        t_amortized = (time.perf_counter() - start) / len(subjects)
        plain = make("amortized", False, cache).fit(ds.faces_of(template), faces)  # same weights, from the cache
        rows["amortized"] = {"s_per_subject": round(t_amortized, 1), "mae": error(plain)}
        rows["amortized, recentered"] = {"s_per_subject": round(t_amortized, 1), "mae": error(amortized)}
        start = time.perf_counter()
        n = sum(len(amortized.transform(s, faces[s])) for s in subjects)
        throughput = n / (time.perf_counter() - start)
        if args.unseen:
            # people left out of training entirely, added afterwards by their mean code alone (no fine-tune)
            seen = {s: f for s, f in faces.items() if s not in probe}
            start = time.perf_counter()
            held = make("amortized", True, cache).fit(ds.faces_of(template), seen)
            t_held = (time.perf_counter() - start) / len(seen)
            start = time.perf_counter()
            for s in probe:
                held.add_subject(s, faces[s], ds.faces_of(template))
            t_add = (time.perf_counter() - start) / len(probe)
            rows["amortized, recentered, people unseen in training"] = {
                "s_per_subject": round(t_add, 2), "training_s_per_seen_subject": round(t_held, 1), "mae": error(held)}
        if args.probe:
            frames = ds.frames[ds.frames["subject"].isin(subjects)]
            who = frames["subject"].to_numpy()
            originals = equalize(np.asarray(ds.faces[frames["face"].to_numpy()]))
            aus = args.aus.split(",")
            probes = {"originals (histogram-equalized)": linear_probe(frames, who, originals, aus)}
            for label, norm in (("amortized", plain), ("amortized, recentered", amortized)):
                images = np.concatenate([norm.transform(s, faces[s]) for s in subjects])
                probes[label] = linear_probe(frames, who, images, aus)
        start = time.perf_counter()
        per_subject = make("per-subject", False, cache).fit(ds.faces_of(template), {s: faces[s] for s in probe})
        t_per = (time.perf_counter() - start) / len(probe)
        rows["per-subject (the paper's procedure)"] = {"s_per_subject": round(t_per, 1), "mae": error(per_subject)}
        recentered = make("per-subject", True, cache).fit(ds.faces_of(template), {s: faces[s] for s in probe})
        rows["per-subject, recentered"] = {"s_per_subject": round(t_per, 1), "mae": error(recentered)}
    for r in rows.values():
        r["mae_mean"] = round(float(np.mean(list(r["mae"].values()))), 2)
    out = {
        "benchmark": "deepfn-amortized-vs-per-subject", "preset": "lite", "cpus": os.cpu_count(),
        "subjects_amortized": len(subjects), "amortized_iterations": args.iterations,
        "per_subject_iterations": args.per_subject_iterations, "evaluated_subjects": probe, "rows": rows,
        "speedup_per_subject": round(t_per / t_amortized, 1),
        "normalize_frames_per_s": round(throughput, 1),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if args.probe:
        out["au_probe_balanced_accuracy"] = {k: {"mean": round(float(np.mean(list(v.values()))), 3), **v}
                                             for k, v in probes.items()}
    return out


def probe_cmd(args: argparse.Namespace) -> dict:
    """How much AU information survives normalization: a cross-person linear probe on original vs normalized inputs."""
    from pathlib import Path

    from sklearn.metrics import balanced_accuracy_score

    audit = Path(args.audit)
    run = json.loads((audit / "run.json").read_text())
    ds = load_dataset(run["data"])
    scope = run["plan"]["scope"]
    frames = ds.frames[ds.frames["subject"].isin(scope)]
    subjects = frames["subject"].to_numpy()
    people = sorted(set(subjects))
    train_people, test_people = people[::2], people[1::2]
    out = {"benchmark": "deepfn-au-probe", "audit": str(audit), "train_subjects": len(train_people),
           "test_subjects": len(test_people)}
    for norm in run["config"]["normalizers"]:
        path = AuditDir(audit).find_inputs(norm)
        if path is None:
            raise SystemExit(f"{audit}: no cached inputs of {norm} (run the audit first)")
        X = probe_features(np.load(path))
        scores = {}
        for au in args.aus.split(","):
            y = frames[au].to_numpy()
            tr = np.isin(subjects, train_people) & (y >= 0)
            te = np.isin(subjects, test_people) & (y >= 0)
            model = probe_model().fit(X[tr], y[tr])
            scores[au] = round(float(balanced_accuracy_score(y[te], model.predict(X[te]))), 3)
        out[f"balanced_accuracy_{norm}"] = scores
        out[f"mean_{norm}"] = round(float(np.mean(list(scores.values()))), 3)
    return out


def ablate_cmd(args: argparse.Namespace) -> dict:
    """What does and does not close the amortized model's error gap: longer training, per-subject fine-tunes, no warp.

    Same subjects and error measure as `compare --subjects 3` (MAE of D^y(E(x)) against the ideal rendering), scored
    as published, without recentering: these are the attempts that came before it.
    """
    import copy

    from auditkit.data.synth.truth import load_truth
    from auditkit.normalizers.deepfn.augment import preprocess
    from auditkit.normalizers.deepfn.train import TrainConfig, fine_tune, fit_model, normalize_faces

    ds = load_dataset(args.data)
    truth = load_truth(ds)
    scope = list(ds.subjects.loc[ds.subjects["dataset"] == "bp4d-synth", "subject"])
    template = select_template(ds, scope)
    subjects = [s for s in scope if s != template]
    probe = list(np.random.default_rng(0).choice(subjects, args.subjects, replace=False))
    p = PRESETS["lite"]
    tpl = preprocess(ds.faces_of(template), p.size)
    subs = [preprocess(ds.faces_of(s), p.size) for s in subjects]
    subject_of = ds.frames["subject"].to_numpy()
    ideal, src = {}, {}
    for s in probe:
        idx = np.flatnonzero(subject_of == s)[::15]
        ideal[s] = equalize(truth.render(idx, on=template)).astype(float)
        src[s] = np.asarray(ds.faces[ds.frames["face"].to_numpy()[idx]])

    def mae(model: DeepFN, s: str) -> float:
        return float(np.abs(normalize_faces(model, src[s], out_size=(128, 128)).astype(float) - ideal[s]).mean())

    def amortized(cfg: TrainConfig, iterations: int, model: DeepFN | None = None) -> tuple[DeepFN, float]:
        torch.manual_seed(cfg.seed)
        model = model or DeepFN(p, n_subjects=len(subjects))
        start = time.perf_counter()
        model, _ = fit_model(model, tpl, subs, torch.arange(len(subjects)), cfg, iterations, None, None)
        return model, time.perf_counter() - start

    rows: list[dict] = []
    base = TrainConfig(iterations=args.iterations)
    model, secs = amortized(base, base.iterations)
    rows.append({"variant": f"amortized {base.iterations} it", "s_per_subject": secs / len(subjects),
                 "mae": {s: mae(model, s) for s in probe}})
    state = copy.deepcopy(model.state_dict())
    for ft in args.finetune:
        errs, times = {}, []
        for s in probe:
            m = DeepFN(p, n_subjects=len(subjects))
            m.load_state_dict(state)
            start = time.perf_counter()
            fine_tune(m, tpl, subs[subjects.index(s)], base, ft)
            times.append(time.perf_counter() - start)
            errs[s] = mae(m, s)
        rows.append({"variant": f"amortized {base.iterations} it + {ft} it fine-tune per subject",
                     "s_per_subject": secs / len(subjects) + float(np.mean(times)), "mae": errs})
    total, spent = base.iterations, secs
    for more in args.longer:
        model, secs = amortized(replace(base, seed=total), more, model)  # continue training the same model
        total, spent = total + more, spent + secs
        rows.append({"variant": f"amortized {total} it", "s_per_subject": spent / len(subjects),
                     "mae": {s: mae(model, s) for s in probe}})
    model, secs = amortized(replace(base, warp=0.0), base.iterations)
    rows.append({"variant": f"amortized {base.iterations} it, no grid warp", "s_per_subject": secs / len(subjects),
                 "mae": {s: mae(model, s) for s in probe}})
    for r in rows:
        r["mae_mean"] = round(float(np.mean(list(r["mae"].values()))), 2)
        r["mae"] = {k: round(v, 2) for k, v in r["mae"].items()}
        r["s_per_subject"] = round(r["s_per_subject"], 1)
    return {"benchmark": "deepfn-amortized-ablation", "preset": "lite", "cpus": os.cpu_count(), "subjects": probe,
            "rows": rows}


def main() -> None:
    """Dispatch the sub-benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("steps")
    s.add_argument("--paper-steps", type=int, default=2)
    c = sub.add_parser("compare")
    c.add_argument("--data", required=True)
    c.add_argument("--subjects", type=int, default=3, help="subjects trained the paper's way (per subject)")
    c.add_argument("--iterations", type=int, default=1500, help="amortized iterations (all subjects)")
    c.add_argument("--per-subject-iterations", type=int, default=1500)
    c.add_argument("--no-unseen", dest="unseen", action="store_false",
                   help="skip training a second amortized model without the evaluated people")
    c.add_argument("--no-probe", dest="probe", action="store_false", help="skip the AU probe")
    c.add_argument("--aus", default="AU01,AU02,AU04,AU06,AU12,AU15,AU17")
    a = sub.add_parser("ablate")
    a.add_argument("--data", required=True)
    a.add_argument("--subjects", type=int, default=3)
    a.add_argument("--iterations", type=int, default=1500, help="amortized iterations before the variants")
    a.add_argument("--finetune", type=int, nargs="*", default=[150, 400], help="fine-tune iterations per subject")
    a.add_argument(
        "--longer", type=int, nargs="*", default=[1500, 3000], help="further amortized iterations, cumulative"
    )
    p = sub.add_parser("probe")
    p.add_argument("--audit", required=True, help="an audit directory that ran with --normalizer deepfn")
    p.add_argument("--aus", default="AU01,AU02,AU04,AU06,AU12,AU15,AU17")
    d = sub.add_parser("default")
    d.add_argument("--iterations", type=int, default=200, help="timed training steps")
    args = parser.parse_args()
    run = {"steps": steps_cmd, "compare": compare_cmd, "probe": probe_cmd, "ablate": ablate_cmd,
           "default": default_cmd}[args.cmd]
    print(json.dumps(run(args), indent=2))


if __name__ == "__main__":
    main()
