"""`deepfn` normalizer plugin: amortized (CPU default) or per-subject (the paper's procedure, GPU default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from auditkit.contract import Normalizer
from auditkit.errors import AuditkitError
from auditkit.normalizers.deepfn.model import DeepFN
from auditkit.normalizers.deepfn.person_stats import PersonStats, person_stats, using_stats
from auditkit.normalizers.deepfn.presets import PRESETS
from auditkit.normalizers.deepfn.train import CACHE_VERSION as WEIGHTS_VERSION
from auditkit.normalizers.deepfn.train import (
    TrainConfig,
    cache_key,
    default_cache_dir,
    faces_digest,
    fine_tune,
    load_state,
    mean_code,
    normalize_faces,
    save_atomic,
    train,
)

# bump when a change here can change the faces it returns from given weights (the weights have their own version,
# train.CACHE_VERSION; tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 1
MODES = ("amortized", "per-subject")
# the CPU default's departures from Eq. 1, each kept because it raised the share of the oracle's ceiling in screening
# (the figures: benchmarks/README.md, "DeepFN against the ceiling"). warp 0: with centered training the grid warp no
# longer guards against identity leaking through, and reconstructing an unwarped target from a warped input is
# ill-posed, so the decoders learned blur. 3,000 iterations: without the warp's blur, longer training pays again.
# equalize "face": equalized by the whole crop, a face darker than the background came out mid-grey on a bright, noisy
# background and a lighter one the other way round, so darker-skinned people were normalized worse. background "grey":
# equalized by the face, a darker head still stood as a high-contrast silhouette on a white background (a lighter one
# on black), and its pose drowned its expression; with everything outside the whole face mid-grey, the cross-group
# share of the ceiling and the linear AU probe both rose.
AMORTIZED_DEFAULTS = {"center": True, "gradient_weight": 1.0, "lr": 1e-3, "warp": 0.0, "iterations": 3000,
                      "equalize": "face", "background": "grey"}
# the paper's training (section 3.1): 50K iterations, each a batch of 64 template and 64 subject images, Adam 5e-5;
# per-subject mode with the paper preset is that procedure (checkpoints sparser: the paper model's is 1.6 GB)
PAPER_TRAINING = {"iterations": 50_000, "batch_size": 64, "lr": 5e-5, "checkpoint_every": 2_000}
MIN_RECENTER_FRAMES = 10  # fewer frames give too noisy a mean code to recenter a person on
# seconds per training step, for `auditkit plan`: on 2 CPU threads, `python benchmarks/bench_deepfn.py steps`; on one
# GPU at the preset's batch (bf16 autocast, as auditkit trains there), `python benchmarks/bench_deepfn_gpu.py device` on
# an NVIDIA H100 80GB HBM3 (both in benchmarks/README.md)
STEP_S_2_CORES = {"lite": 0.111, "paper": 37.1}
STEP_S_GPU = {"paper": 0.0232}
GPU_NAME = "H100"
# constructor keywords that go straight into TrainConfig when given
TRAINING_OPTIONS = ("batch_size", "lr", "lr_schedule", "warp", "center", "people_per_batch", "gradient_weight",
                    "checkpoint_every", "equalize", "background")


@dataclass(frozen=True)
class Resolved:
    """A DeepFN normalizer's settings as they run on this machine (`DeepFNNormalizer.resolve`)."""

    mode: str
    config: TrainConfig
    recenter: bool
    person_norm: bool
    cache_dir: Path


class DeepFNNormalizer(Normalizer):
    """Normalizer interface around DeepFN; trained weights are cached on disk, so re-runs cost nothing.

    With `recenter` (the amortized default) a person's mean shared code is swapped for the template's before D^y:
    D^y(E(x) - mean E(x_subject) + mean E(x_template)). What all of a person's frames share is their identity, so
    this removes what the encoder kept of it and leaves the frame's own pose and expression (benchmarks/README.md).
    The person's own mean expression goes with it, as with any per-person baseline correction.

    The amortized default goes further and trains centered (TrainConfig.center): the decoders only ever see codes minus
    their person's mean, so they learn to render pose and expression on a fixed identity, and normalization is
    D^y(E(x) - mean E(x_subject)). It also adds an image-gradient term to Eq. 1 against blur (gradient_weight).
    Per-subject mode keeps the paper's Eq. 1 and D^y(E(x)) unless these options are given.
    """

    name = "deepfn"
    cache_version = f"{WEIGHTS_VERSION}.{CACHE_VERSION}"  # weights, then transform: in the input cache key
    shared: DeepFN | None = None  # the amortized model, once fitted
    resolved_: Resolved | None = None  # the settings as fit resolved them

    def __init__(self, mode: Literal["amortized", "per-subject"] | None = None,
                 preset: Literal["paper", "lite"] | None = None, iterations: int | None = None,
                 seed: int = 0, cache_dir: str | Path | None = None, max_frames: int | None = None,
                 recenter: bool | None = None, person_norm: bool | None = None,
                 batch_size: int | None = None, lr: float | None = None,
                 lr_schedule: Literal["constant", "cosine"] | None = None, warp: float | None = None,
                 center: bool | None = None, people_per_batch: int | None = None, gradient_weight: float | None = None,
                 checkpoint_every: int | None = None, equalize: Literal["image", "face"] | None = None,
                 background: Literal["keep", "grey"] | None = None,
                 progress: Callable[[str, int, int], None] | None = None) -> None:
        # stored as given (scikit-learn's rule); None means "the default of the mode and preset", resolved in `fit`
        # (`resolve`), since the defaults depend on the machine that runs it (a GPU: the paper's procedure)
        self.mode, self.preset, self.iterations, self.seed = mode, preset, iterations, seed
        self.cache_dir, self.max_frames, self.recenter, self.person_norm = cache_dir, max_frames, recenter, person_norm
        self.batch_size, self.lr, self.lr_schedule, self.warp, self.center = batch_size, lr, lr_schedule, warp, center
        self.people_per_batch, self.gradient_weight, self.checkpoint_every = people_per_batch, gradient_weight, \
            checkpoint_every
        self.equalize, self.background, self.progress = equalize, background, progress
        # set by a runner that can spread work (a cluster): map(fn, calls) -> results; per-subject fits then run in it
        self.parallel_map: Callable[[Callable, list[tuple]], list] | None = None

    def resolve(self) -> Resolved:
        """The settings as they will run on this machine: mode and preset defaults (GPU or not), the training config
        with the mode's defaults, recentering and per-person statistics; a one-line error for settings that clash."""
        gpu = torch.cuda.is_available()
        mode = self.mode or ("per-subject" if gpu else "amortized")
        if mode not in MODES:
            raise AuditkitError(f"deepfn: unknown mode {mode!r} (choose from {', '.join(MODES)})")
        preset = self.preset or ("paper" if gpu else "lite")
        if preset not in PRESETS:
            raise AuditkitError(f"deepfn: unknown preset {preset!r} (choose from {', '.join(PRESETS)})")
        base = TrainConfig(preset=preset, seed=self.seed)
        if mode == "amortized":
            base = replace(base, **AMORTIZED_DEFAULTS)
        elif preset == "paper":
            base = replace(base, **PAPER_TRAINING)
        if self.iterations is not None:
            base = replace(base, iterations=int(self.iterations))
        options = {k: getattr(self, k) for k in TRAINING_OPTIONS if getattr(self, k) is not None}
        try:
            config = replace(base, **options)
        except ValueError as e:
            raise AuditkitError(f"deepfn: {e}") from None
        # the paper's procedure (per subject) as published; amortized mode needs recentering to drop identity
        recenter = (mode == "amortized") if self.recenter is None else bool(self.recenter)
        if config.center and not recenter:
            raise AuditkitError("deepfn: a model trained centered (center=True) decodes only centered codes; "
                                "it cannot be used with recenter=False")
        # BatchNorm statistics from each person's own frames (person_stats.py); on by default where it applies
        has_norm = config.model_preset.norm == "batch"
        person_norm = (has_norm and recenter and mode == "amortized") if self.person_norm is None \
            else bool(self.person_norm)
        if person_norm and not (has_norm and recenter):
            raise AuditkitError(f"deepfn: person_norm needs recentering and a preset with BatchNorm (lite), not "
                                f"{'recenter=False' if not recenter else repr(config.preset)}")
        cache_dir = Path(self.cache_dir) if self.cache_dir else default_cache_dir()
        return Resolved(mode, config, recenter, person_norm, cache_dir)

    def fit_cost(self, n_subjects: int) -> dict:
        """What fitting on `n_subjects` people costs with these settings as resolved here: one amortized fit, or a
        template and person model per subject (the paper's per-subject mode)."""
        r = self.resolve()
        fits = 1 if r.mode == "amortized" else n_subjects
        steps, preset = r.config.iterations, r.config.preset
        step, gpu_step = STEP_S_2_CORES.get(preset), STEP_S_GPU.get(preset)
        gpu = (f"{gpu_step} s/step on one {GPU_NAME} (bench_deepfn_gpu.py device)" if gpu_step is not None
               else "GPU not measured for this preset")
        return {"what": "DeepFN fits", "count": fits,
                "cpu_core_s": fits * steps * step * 2 if step is not None else float("nan"),
                "gpu_s": fits * steps * gpu_step if gpu_step is not None else None,
                "detail": f"{preset} preset, {steps:,} iterations each",
                "source": f"{step} s/step on 2 cores (bench_deepfn.py steps); {gpu}"}

    @property
    def config(self) -> TrainConfig:
        """The training config the settings resolve to (the fitted one after `fit`)."""
        return (self.resolved_ or self.resolve()).config

    def fitted_settings(self) -> dict:
        """Mode, preset, training config and recentering, resolved: what a report needs to reproduce this
        normalization."""
        r = self.resolved_ or self.resolve()
        c = r.config
        return {"mode": r.mode, "preset": c.preset, "iterations": c.iterations, "batch_size": c.batch_size,
                "lr": c.lr, "warp": c.warp, "seed": c.seed, "recenter": r.recenter, "person_norm": r.person_norm,
                "center": c.center,
                "people_per_batch": c.people_per_batch, "gradient_weight": c.gradient_weight,
                "lr_schedule": c.lr_schedule, "equalize": c.equalize, "background": c.background,
                "max_frames": self.max_frames,
                "device": "cuda" if torch.cuda.is_available() else "cpu"}

    def output_domain(self) -> dict[str, str]:
        """Its faces are drawn as its inputs are prepared: equalized by `equalize`'s region, `background` kept or
        mid-grey (by default, on this machine, as resolved)."""
        c = self.config
        return {"equalize": c.equalize, "background": c.background}

    @property
    def _r(self) -> Resolved:
        if self.resolved_ is None:
            raise AuditkitError("deepfn: transform called before fit")
        return self.resolved_

    def _subsample(self, faces: np.ndarray, salt: int) -> np.ndarray:
        if self.max_frames is None or len(faces) <= self.max_frames:
            return faces
        idx = np.sort(
            np.random.default_rng([self._r.config.seed, salt]).choice(len(faces), self.max_frames, replace=False)
        )
        return faces[idx]

    def _fit_one(self, key: str, template: torch.Tensor, subjects: list[torch.Tensor], label: str) -> DeepFN:
        self._r.cache_dir.mkdir(parents=True, exist_ok=True)
        final = self._r.cache_dir / f"{key}.pt"
        state = load_state(final) if final.exists() else None
        if state is not None:
            model = DeepFN(PRESETS[state["preset"]], n_subjects=state["n_subjects"], equalize=self._r.config.equalize,
                           background=self._r.config.background)
            model.load_state_dict(state["model"])
            model.eval()
            self.losses[label] = state["losses"]
            self.cache_hits += 1
            return model
        report = (lambda done, total, loss: self.progress(f"deepfn {label}", done, total)) if self.progress else None
        model, losses = train_to_cache(template, subjects, self._r.config, self._r.cache_dir, key, report)
        self.losses[label] = losses
        return model

    def fit(self, template_faces: np.ndarray, subject_faces: dict[str, np.ndarray]) -> DeepFNNormalizer:
        """Train (or load from the cache) the amortized model over all subjects, or one model per subject."""
        # a re-fit starts afresh: codes and models of an earlier fit belong to other weights or another template
        self.resolved_ = self.resolve()
        self.models: dict[str, DeepFN] = {}
        self.shared = None
        self.losses: dict[str, list[float]] = {}
        self.cache_hits = 0
        self.template_codes: dict[str, torch.Tensor] = {}  # model label -> mean code of the template
        self.subject_codes: dict[str, torch.Tensor] = {}  # subject -> its mean code (under its model)
        self.subject_stats: dict[str, PersonStats] = {}  # subject -> its BatchNorm statistics (person_norm)
        prepare = self._r.config.prepare
        template = self._subsample(np.asarray(template_faces), 0)
        t_digest = faces_digest(template)
        t_tensor = prepare(template)
        names = sorted(subject_faces)
        faces = {s: self._subsample(np.asarray(subject_faces[s]), i + 1) for i, s in enumerate(names)}
        digests = {s: faces_digest(f) for s, f in faces.items()}
        if self._r.mode == "amortized":
            key = cache_key("amortized", self._r.config, t_digest, digests)
            self.shared = self._fit_one(key, t_tensor, [prepare(faces[s]) for s in names], "amortized")
        else:
            keys = {s: cache_key("per-subject", self._r.config, t_digest, {s: digests[s]}) for s in names}
            todo = [s for s in names if not (self._r.cache_dir / f"{keys[s]}.pt").exists()]
            if self.parallel_map is not None and len(todo) > 1:
                # each person's model trains as a task of its own into the (shared) cache; the loop below loads them
                self._r.cache_dir.mkdir(parents=True, exist_ok=True)
                self.parallel_map(fit_into_cache, [(t_tensor, [prepare(faces[s])], self._r.config,
                                                    self._r.cache_dir, keys[s]) for s in todo])
            for s in names:
                self.models[s] = self._fit_one(keys[s], t_tensor, [prepare(faces[s])], s)
        if self._r.recenter:
            # every frame given, not only the training subsample: a forward pass is cheap and the mean steadier
            for label, model in ({"amortized": self.shared} if self.shared is not None else self.models).items():
                self.template_codes[label] = self._template_code(model, template_faces)
            for s in names:
                if len(subject_faces[s]):
                    self._store_person(s, np.asarray(subject_faces[s]))
        return self

    def add_subject(self, subject: str, faces: np.ndarray, template_faces: np.ndarray,
                    iterations: int = 0) -> DeepFNNormalizer:
        """Amortized mode: bring in a person unseen at fit time (their mean code; optionally a short fine-tune first).

        With recentering no training is needed (benchmarks/README.md measures it). A fine-tune changes the shared
        encoder, so the stored mean codes of the other people are dropped and taken from their frames at transform.
        """
        if self.resolved_ is None or self.resolved_.mode != "amortized" or self.shared is None:
            raise AuditkitError("deepfn: add_subject needs a fitted amortized model")
        faces = np.asarray(faces)
        if iterations > 0:
            prepare = self._r.config.prepare
            template = prepare(self._subsample(np.asarray(template_faces), 0))
            _, losses = fine_tune(self.shared, template, prepare(faces), self._r.config, iterations)
            self.losses[subject] = losses
            self.subject_codes.clear()
            self.subject_stats.clear()
            if self._r.recenter:
                self.template_codes["amortized"] = self._template_code(self.shared, template_faces)
        if self._r.recenter:
            self._check_frames(subject, faces)
            self._store_person(subject, faces)
        return self

    def _template_code(self, model: DeepFN, template_faces: np.ndarray) -> torch.Tensor:
        # a centered model's D^y was trained on codes minus the template's mean: the target mean is zero
        if self._r.config.center:
            return torch.zeros(model.preset.latent)
        if self._r.person_norm:
            return person_stats(model, np.asarray(template_faces), seed=self._r.config.seed).code
        return mean_code(model, np.asarray(template_faces))

    @staticmethod
    def _check_frames(subject: str, faces: np.ndarray) -> None:
        if len(faces) < MIN_RECENTER_FRAMES:
            raise AuditkitError(f"deepfn: recentering {subject!r} needs at least {MIN_RECENTER_FRAMES} of their "
                                f"frames (got {len(faces)}); pass more, or recenter=False")

    def _label(self, subject: str) -> str:
        return "amortized" if self._r.mode == "amortized" else subject

    def _person(self, subject: str, faces: np.ndarray) -> tuple[torch.Tensor, PersonStats | None]:
        """A person's mean code and, with person_norm, their BatchNorm statistics (one pass over their frames)."""
        model = self._model_of(subject)
        if self._r.person_norm:
            stats = person_stats(
                model, faces, target=self.template_codes[self._label(subject)], seed=self._r.config.seed
            )
            return stats.code, stats
        return mean_code(model, faces), None

    def _store_person(self, subject: str, faces: np.ndarray) -> None:
        code, stats = self._person(subject, faces)
        self.subject_codes[subject] = code
        if stats is not None:
            self.subject_stats[subject] = stats

    def _model_of(self, subject: str) -> DeepFN:
        if self._r.mode == "amortized":
            if self.shared is None:
                raise AuditkitError("deepfn: transform called before fit")
            return self.shared
        if subject not in self.models:
            raise AuditkitError(f"deepfn: no per-subject model for {subject!r}; fit it first")
        return self.models[subject]

    def transform(self, subject: str, faces: np.ndarray) -> np.ndarray:
        """D^y(E(faces)) (recentered: see the class) at the input's size, uint8, histogram-equalized domain."""
        faces = np.asarray(faces)
        model = self._model_of(subject)
        shift, stats = None, None
        if self._r.recenter and len(faces):
            code, stats = self.subject_codes.get(subject), self.subject_stats.get(subject)
            if code is None:  # a person unseen at fit time: their mean code (and statistics) from the frames given
                self._check_frames(subject, faces)
                code, stats = self._person(subject, faces)
            shift = self.template_codes[self._label(subject)] - code
        with using_stats(model, stats):
            return normalize_faces(model, faces, out_size=faces.shape[1:], shift=shift)


def train_to_cache(template: torch.Tensor, subjects: list[torch.Tensor], config: TrainConfig, cache_dir: Path,
                   key: str, progress: Callable[[int, int, float], None] | None = None) -> tuple[DeepFN, list[float]]:
    """Train one DeepFN (resuming its checkpoint) and store it in the cache as `key`; (model, losses)."""
    cache_dir = Path(cache_dir)
    ckpt = cache_dir / f"{key}.ckpt.pt"
    model, losses = train(template, subjects, config, checkpoint=ckpt, progress=progress)
    save_atomic({"model": model.cpu().state_dict(), "preset": config.preset, "losses": losses,
                 "n_subjects": len(subjects) if len(subjects) > 1 else None, "config": config.__dict__},
                cache_dir / f"{key}.pt")
    ckpt.unlink(missing_ok=True)
    return model, losses


def fit_into_cache(template: torch.Tensor, subjects: list[torch.Tensor], config: TrainConfig, cache_dir: Path,
                   key: str) -> None:
    """train_to_cache as a remote task: the model stays in the shared cache instead of travelling back."""
    train_to_cache(template, subjects, config, cache_dir, key)
