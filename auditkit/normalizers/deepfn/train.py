"""Training DeepFN on Eq. 1, per subject (the paper) or amortized over subjects, with checkpoints and a weight cache."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from auditkit.files import atomic_path, cache_root
from auditkit.normalizers.deepfn.augment import augment, preprocess
from auditkit.normalizers.deepfn.model import ConditionedDecoder, DeepFN
from auditkit.normalizers.deepfn.presets import PRESETS, DeepFNPreset
from auditkit.normalizers.histeq import BACKGROUNDS, REGIONS
from auditkit.process_state import preserved

# bump when a change here can change the weights it trains (part of the weight cache key)
# (tests/test_cache_versions.py watches auditkit.provenance.CODE_FAMILIES)
CACHE_VERSION = 2


@dataclass(frozen=True)
class TrainConfig:
    """Eq. 1 training settings (paper: Adam lr 5e-5, betas (0.5, 0.999), batches of 64, 50K iterations)."""

    preset: str = "lite"
    iterations: int = 1500
    batch_size: int = 32
    lr: float = 5e-4
    betas: tuple[float, float] = (0.5, 0.999)
    seed: int = 0
    checkpoint_every: int = 250
    warp: float = 0.04  # strength of the input's random grid warp (faceswap's "random warp"); 0 leaves only the affine
    # Departures for the CPU default (off = the paper's Eq. 1). `center`: each person's codes are centered on their mean
    # in the batch before decoding, so the decoders learn to render deviations (pose, expression) on a fixed identity
    # and identity never needs to pass through the code; normalization is then D^y(E(x) - mean E(x_person)).
    center: bool = False
    people_per_batch: int = 4  # with `center`: the subject batch holds this many people, batch_size / this frames each
    # weight of an L1 loss on horizontal and vertical image gradients, beside Eq. 1's pixel L1: pixel L1 alone rewards
    # the blurred average of a wrinkle's positions, which erases the small movements that are the action units
    gradient_weight: float = 0.0
    # "cosine" decays the learning rate from lr to 0 over the run (a short CPU budget ends on small, sharpening steps)
    lr_schedule: str = "constant"
    # the region whose histogram equalizes each face: "image" (the paper) or "face" (the inner face, so that the
    # background does not set the mapping differently for darker and lighter skin; normalizers/histeq.py)
    equalize: str = "image"
    # "grey": everything outside the whole face is mid-grey in the inputs (and so in the targets); "keep": the crop
    background: str = "keep"

    def __post_init__(self) -> None:
        if self.center and (self.people_per_batch < 1 or self.batch_size % self.people_per_batch
                            or self.batch_size // self.people_per_batch < 2):
            raise ValueError(f"batch_size {self.batch_size} must be a multiple of people_per_batch "
                             f"{self.people_per_batch}, with at least 2 frames per person, when training centered")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        if self.equalize not in REGIONS:
            raise ValueError(f"equalize must be one of {', '.join(REGIONS)}, got {self.equalize!r}")
        if self.background not in BACKGROUNDS:
            raise ValueError(f"background must be one of {', '.join(BACKGROUNDS)}, got {self.background!r}")
        if self.gradient_weight < 0:
            raise ValueError(f"gradient_weight must be >= 0, got {self.gradient_weight}")

    @property
    def model_preset(self) -> DeepFNPreset:
        """The DeepFNPreset this config names."""
        if self.preset not in PRESETS:
            raise KeyError(self.preset)
        return PRESETS[self.preset]

    def prepare(self, faces: np.ndarray) -> torch.Tensor:
        """(n, H, W) uint8 faces as training inputs of this config's model (augment.preprocess)."""
        return preprocess(faces, self.model_preset.size, self.equalize, self.background)


def default_cache_dir() -> Path:
    """The DeepFN weight cache: <auditkit cache root>/deepfn."""
    return cache_root() / "deepfn"


def faces_digest(*arrays: np.ndarray) -> str:
    """Content hash of face arrays: the cache key follows the data, wherever it lives."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def cache_key(kind: str, config: TrainConfig, template_digest: str, subject_digests: dict[str, str]) -> str:
    """Key of (data, subjects, template, preset, seed, iterations, mode, training-code version)."""
    # the model's sizes too: a preset whose definition changed must not load weights of its old shape
    settings = asdict(config)
    if settings["lr_schedule"] == "constant":
        del settings["lr_schedule"]  # added later: weights trained before it existed keep their key
    if settings["equalize"] == "image":
        del settings["equalize"]  # likewise
    if settings["background"] == "keep":
        del settings["background"]  # likewise
    # the code version: weights trained by older code are not reused by newer code (tests/test_cache_versions.py)
    from auditkit.provenance import modified_code

    modified = modified_code(("deepfn-weights",))  # released code keeps its keys; a modified checkout's follow its code
    version = f"{CACHE_VERSION}{modified}" if modified else CACHE_VERSION
    payload = json.dumps({"kind": kind, "version": version, "config": settings,
                          "model": asdict(config.model_preset),
                          "template": template_digest,
                          "subjects": sorted(subject_digests.items())}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:20]


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def to_device(t: torch.Tensor, dev: torch.device) -> torch.Tensor:
    """Move a batch to `dev`, channels-last: oneDNN (CPU) and cuDNN both run these convolutions fastest so."""
    return t.to(dev).contiguous(memory_format=torch.channels_last)


def load_state(path: Path, map_location: str | torch.device = "cpu") -> dict | None:
    """A cached weights or checkpoint file as plain data (weights_only: a shared cache cannot run code on load);
    None, with a one-line warning, when it is unreadable, so that the caller trains again."""
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError... for damaged or unsafe files
        print(f"warning: {path}: unreadable or not plain weights ({exc.__class__.__name__}); training again",
              file=sys.stderr)
        return None
    if not isinstance(state, dict) or "model" not in state:
        print(f"warning: {path}: not a DeepFN weights file; training again", file=sys.stderr)
        return None
    return state


def save_atomic(obj: dict, path: Path) -> None:
    """torch.save, all or nothing (checkpoints and cached weights)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def train(template: torch.Tensor, subjects: list[torch.Tensor], config: TrainConfig, checkpoint: Path | None = None,
          progress: Callable[[int, int, float], None] | None = None) -> tuple[DeepFN, list[float]]:
    """Minimize Eq. 1 on preprocessed faces; one subject -> the paper's model, several -> the amortized model.

    Each iteration takes a batch of template images and a batch of subject images (a random subject per image in
    amortized mode), warps the inputs, and reconstructs the unwarped targets through D^y and D^x respectively.
    """
    with preserved():  # seeded globally (the initial weights), the caller's stream restored after
        torch.manual_seed(config.seed)
        amortized = len(subjects) > 1
        model = DeepFN(config.model_preset, n_subjects=len(subjects) if amortized else None,
                       equalize=config.equalize, background=config.background).to(_device())
        rows = torch.arange(len(subjects)) if amortized else None
        return fit_model(model, template, subjects, rows, config, config.iterations, checkpoint, progress)


def fine_tune(model: DeepFN, template: torch.Tensor, subject: torch.Tensor, config: TrainConfig, iterations: int,
              progress: Callable[[int, int, float], None] | None = None) -> tuple[DeepFN, list[float]]:
    """Add one subject to an amortized model: a new embedding row, then a short Eq. 1 run on the template and it."""
    decoder = model.subject_decoder
    if not isinstance(decoder, ConditionedDecoder):
        raise TypeError("fine_tune needs an amortized model (a conditioned subject decoder)")
    old = decoder.embedding.weight.data
    grown = torch.nn.Embedding(old.shape[0] + 1, old.shape[1]).to(old.device)
    grown.weight.data[:-1] = old
    grown.weight.data[-1] = old.mean(0)  # start from the average person
    decoder.embedding = grown
    with preserved():
        torch.manual_seed(config.seed + old.shape[0])
        return fit_model(model, template, [subject], torch.tensor([old.shape[0]]), config, iterations, None, progress)


def image_gradient_l1(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of horizontal and vertical finite differences of two (n, 1, H, W) batches."""
    dx = (a[..., :, 1:] - a[..., :, :-1]) - (b[..., :, 1:] - b[..., :, :-1])
    dy = (a[..., 1:, :] - a[..., :-1, :]) - (b[..., 1:, :] - b[..., :-1, :])
    return dx.abs().mean() + dy.abs().mean()


def center_codes(z: torch.Tensor, groups: int) -> torch.Tensor:
    """Subtract from each of `groups` consecutive equal blocks of codes (one person each) the block's mean."""
    n = len(z)
    blocks = z.view(groups, n // groups, -1)
    return (blocks - blocks.mean(1, keepdim=True)).reshape(n, -1)


def _sample_people(n_subjects: int, config: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Subject index per batch row: uniform per row (Eq. 1), or `people_per_batch` people in equal blocks (centered)."""
    bs = config.batch_size
    if not config.center:
        return torch.randint(0, n_subjects, (bs,), generator=gen)
    people = torch.randint(0, n_subjects, (config.people_per_batch,), generator=gen)
    return people.repeat_interleave(bs // config.people_per_batch)


def _loss(out: torch.Tensor, target: torch.Tensor, config: TrainConfig) -> torch.Tensor:
    loss = (out - target).abs().mean()  # Eq. 1
    if config.gradient_weight:
        loss = loss + config.gradient_weight * image_gradient_l1(out, target)
    return loss


def fit_model(model: DeepFN, template: torch.Tensor, subjects: list[torch.Tensor], rows: torch.Tensor | None,
              config: TrainConfig, iterations: int, checkpoint: Path | None = None,
              progress: Callable[[int, int, float], None] | None = None) -> tuple[DeepFN, list[float]]:
    """Run Eq. 1 on `model` in place up to `iterations` (resuming from `checkpoint`); `rows`: subject embedding rows.

    The progress callback sees (done, total, loss) after every step; an exception it raises stops training with the
    model holding the weights of the last finished step.
    """
    dev = next(model.parameters()).device
    gen = torch.Generator().manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, betas=config.betas)
    # bf16 autocast on a GPU (the paper preset's home); full precision on CPU keeps runs bit-reproducible
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if dev.type == "cuda" else contextlib.nullcontext()
    losses: list[float] = []
    start = 0
    state = load_state(checkpoint, dev) if checkpoint is not None and checkpoint.exists() else None
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start, losses = state["iteration"], state["losses"]
    model.train()
    sizes = torch.tensor([len(s) for s in subjects])
    offsets = torch.cumsum(sizes, 0) - sizes
    # the faces live on the model's device: augmentation then runs there too (a no-op on CPU)
    pool = torch.cat(subjects).to(dev)
    template = template.to(dev)
    bs = config.batch_size
    for it in range(start, iterations):
        if config.lr_schedule == "cosine":  # a function of the iteration alone: a resumed run continues it exactly
            for group in opt.param_groups:
                group["lr"] = config.lr * 0.5 * (1 + math.cos(math.pi * it / iterations))
        t_idx = torch.randint(0, len(template), (bs,), generator=gen).to(dev)
        who = _sample_people(len(subjects), config, gen)
        s_idx = (offsets[who] + (torch.rand(bs, generator=gen) * sizes[who]).long()).to(dev)
        y_in, y_out = augment(template[t_idx], gen, warp=config.warp)
        x_in, x_out = augment(pool[s_idx], gen, warp=config.warp)
        y_in, y_out, x_in, x_out = (to_device(t, dev) for t in (y_in, y_out, x_in, x_out))
        with autocast:
            people = rows[who].to(dev) if rows is not None else None
            if config.center:
                x_rec = model.decode_subject(center_codes(model.encoder.embed(x_in), config.people_per_batch), people)
                y_rec = model.decode_template(center_codes(model.encoder.embed(y_in), 1))
            else:
                x_rec, y_rec = model.reconstruct_subject(x_in, people), model.reconstruct_template(y_in)
            loss = _loss(x_rec.float(), x_out, config) + _loss(y_rec.float(), y_out, config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        done = it + 1
        if progress:
            progress(done, iterations, losses[-1])
        if checkpoint is not None and (done % config.checkpoint_every == 0 or done == iterations):
            save_atomic({"model": model.state_dict(), "optimizer": opt.state_dict(), "generator": gen.get_state(),
                          "torch_rng": torch.get_rng_state(), "iteration": done, "losses": losses}, checkpoint)
    model.eval()
    return model, losses


@torch.inference_mode()
def mean_code(model: DeepFN, faces: np.ndarray, batch: int = 256) -> torch.Tensor:
    """The mean shared code E(x) (before the second dense layer) of (n, H, W) uint8 faces: what they all have in
    common."""
    if len(faces) == 0:
        raise ValueError("mean_code needs at least one face")
    dev = next(model.parameters()).device
    total = torch.zeros(model.preset.latent, dtype=torch.float64, device=dev)
    for i in range(0, len(faces), batch):
        x = model.prepare(faces[i : i + batch])
        total += model.encoder.embed(to_device(x, dev)).double().sum(0)
    return (total / len(faces)).float()


@torch.inference_mode()
def normalize_faces(model: DeepFN, faces: np.ndarray, out_size: tuple[int, int] | None = None, batch: int = 256,
                    shift: torch.Tensor | None = None) -> np.ndarray:
    """D^y(E(x) + shift) of (n, H, W) uint8 faces (no augmentation), as uint8 at out_size (default: input size)."""
    import cv2

    p = model.preset
    dev = next(model.parameters()).device
    shift = None if shift is None else shift.to(dev)
    h, w = out_size or faces.shape[1:]
    out = np.empty((len(faces), h, w), np.uint8)
    for i in range(0, len(faces), batch):
        x = to_device(model.prepare(faces[i : i + batch]), dev)
        y = (model.normalize(x, shift).squeeze(1).clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu().numpy()
        out[i : i + batch] = y if (h, w) == (p.size, p.size) else np.stack(
            [cv2.resize(f, (w, h), interpolation=cv2.INTER_LINEAR) for f in y])
    return out
