"""Screening DeepFN training variants against the oracle's ceiling, quickly (a few minutes per variant on 2 cores).

Each variant is trained amortized on the fitzpatrick audit's scope of the synthetic default (40 bp4d-like people and
the template), normalizes every face, and is scored two ways: a 3-repetition fitzpatrick audit with the default
LeNet-5 settings (the runner's own `run_task`; within and cross mean score, %) and a cross-person linear AU probe
(logistic regression on 32x32 pixels, 20 people -> the other 20; mean balanced accuracy over 7 AUs). `none` and
`oracle` give the floor and the ceiling. The training loop mirrors auditkit.normalizers.deepfn.train (same model,
augmentation and Eq. 1) with the variant's options; the winner went into TrainConfig, and the replication benchmark
then measures it through the real `auditkit gap`.

Run:  python benchmarks/screen_deepfn.py none oracle                     (floor and ceiling)
      python benchmarks/screen_deepfn.py NAME '{"grad_w": 1.0, "norm": "batch", "lr": 1e-3}'   (one variant)
      python benchmarks/screen_deepfn.py --table [OUT] [--update-readme]    (the results as markdown)
      python benchmarks/screen_deepfn.py NAME [OPTIONS] --template SUBJECT --out audits/screen-template-SUBJECT
                                                          (another template: none and oracle again in that folder)
      python benchmarks/screen_deepfn.py --template-table OUT... [--update-readme]   (templates side by side)
      python benchmarks/screen_deepfn.py NAME --rescore [--out OUT]          (score saved inputs again, no training)
Options of a variant: iters, lr, center, per (people per batch), grad_w, side (bottleneck 2/4/8), latent, warp, norm,
rot, flip, cosine (cosine learning-rate decay to 0), skip (centered 8x8 encoder features into the decoders),
cycle_w (weight of a latent cycle loss through D^y), shared (D^y is the conditioned subject decoder with a template
embedding row), bn_person (normalization takes
BatchNorm statistics from the person's own frames), bn_groups (bn_person, and training takes them per person block),
eq ("image": histogram equalization by the whole crop, the paper; "face": by the inner face's histogram), ssim_w
(weight of a 1 − SSIM term on both reconstructions), in_noise (the largest standard deviation of Gaussian noise added to
the inputs, each image a random level up to it; targets stay clean), adv_w (weight of an adversarial identity head
on the centered subject codes, through a reversed gradient), conf_w (the same head, the encoder pulled towards its
uniform guess instead), hard (exponent of per-person loss weights: each
person's running reconstruction loss over the mean, so people reconstructed worst get more weight), dec_last
(channels of the last decoder stage, 16 in the lite preset: a wider 64x64 decoder).
Results are appended to OUT/results.jsonl (default audits/screen). Figures: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from auditkit.data.dataset import load_dataset
from auditkit.files import cache_root
from auditkit.normalizers.deepfn import augment as augmentation
from auditkit.normalizers.deepfn.augment import augment, preprocess
from auditkit.normalizers.deepfn.model import DeepFN
from auditkit.normalizers.deepfn.presets import PRESETS
from auditkit.normalizers.deepfn.train import center_codes, image_gradient_l1
from auditkit.protocol.audit_dir import AuditDir
from auditkit.protocol.config import AuditConfig
from auditkit.protocol.inputs import prepare_inputs
from auditkit.protocol.plan import AuditPlan, make_plan, scope_rows
from auditkit.protocol.training import TaskData, run_task
from auditkit.stats.base_rates import standardize

PROBE_AUS = ["AU01", "AU02", "AU04", "AU06", "AU12", "AU15", "AU17"]


def plan(data: str, repeats: int = 3, template: str | None = None) -> AuditPlan:
    """The fitzpatrick audit's plan (default preset, fewer repetitions; `template`: another template subject)."""
    cfg = AuditConfig.from_preset("default", data=data, attr=("fitzpatrick",), repeats=repeats, template=template)
    return make_plan(cfg, load_dataset(data))


def audit(inputs: Path, p: AuditPlan, jobs: int = 2) -> dict:
    """Within and cross mean score (%, mean over subjects) of the plan's trainings on these inputs."""
    from joblib import Parallel, delayed

    frames = p.dataset.frames.iloc[scope_rows(p)]
    c = p.config
    opts = {"epochs": c.epochs, "patience": c.patience, "lr": c.lr, "batch_size": c.batch_size, "balanced": c.balanced}
    data = TaskData(str(inputs), frames[p.aus].to_numpy(np.int8), frames["subject"].to_numpy(),
                    frames["sequence"].to_numpy(), p.aus, ",".join(c.attr), c.classifier, opts)
    rows = pd.concat(Parallel(n_jobs=jobs)(delayed(run_task)(t, "screen", data, 1) for t in p.tasks))
    rows["score"] = (rows.f1 + rows.accuracy) / 2
    per_subject = rows.groupby(["condition", "subject"]).score.mean().reset_index()
    s = per_subject.groupby("condition").score.mean()
    result = {"within": round(100 * s["within"], 1), "cross": round(100 * s["cross"], 1)}
    # each test subject's group: the per-group shares and the disparity of the goal
    group_of = {subject: pool.name for pool in p.pools for subject in pool.subjects}
    per_subject["group"] = per_subject.subject.map(group_of)
    for (condition, group), score in per_subject.groupby(["condition", "group"]).score.mean().items():
        result[f"{condition}_{group}"] = round(100 * score, 1)
    # the disparity: each test subject scored by every model that tested them (within and cross), as the
    # audit's disparities table does; and both again at equal base rates (auditkit.stats.base_rates), since the groups
    # show AUs at different rates and F1 follows them
    adjusted = standardize(rows)
    adjusted["score"] = (adjusted.f1 + adjusted.accuracy) / 2
    for key, scored in (("", rows), ("adj_", adjusted)):
        per_au = scored.groupby(["condition", "subject", "au"]).score.mean().reset_index()
        by_condition = per_au.groupby(["condition", "subject"]).score.mean().reset_index()
        by_condition["group"] = by_condition.subject.map(group_of)
        if key:
            for (condition, group), score in by_condition.groupby(["condition", "group"]).score.mean().items():
                result[f"{condition}_{key}{group}"] = round(100 * score, 1)
        every = scored.groupby(["subject", "au"]).score.mean().groupby("subject").mean()
        for group, score in every.groupby(every.index.map(group_of)).mean().items():
            result[f"all_{key}{group}"] = round(100 * score, 1)
    return result


def probe(inputs: Path, p: AuditPlan) -> float:
    """Cross-person linear AU probe: mean balanced accuracy."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    X = np.load(inputs)
    frames = p.dataset.frames.iloc[scope_rows(p)]
    X32 = np.stack([cv2.resize(f, (32, 32), interpolation=cv2.INTER_AREA) for f in X]).reshape(len(X), -1) / 255.0
    people = sorted(set(frames.subject))
    np.random.default_rng(0).shuffle(people)
    train = frames.subject.isin(people[: len(people) // 2]).to_numpy()
    accs = []
    for au in PROBE_AUS:
        y = frames[au].to_numpy()
        ok = y >= 0
        m = LogisticRegression(max_iter=300, C=0.1, class_weight="balanced").fit(X32[train & ok], y[train & ok])
        accs.append(balanced_accuracy_score(y[~train & ok], m.predict(X32[~train & ok])))
    return round(float(np.mean(accs)), 3)


class CenteredSkip(torch.nn.Module):
    """`skip` variant: the encoder's 8x8 feature map, centered per person, added into each decoder at 8x8.

    Centering removes what is constant for a person (identity) from the skip as from the code, so local deviations
    (a raised brow, an open mouth) reach the decoder at 8x8 instead of through the dense bottleneck alone.
    """

    def __init__(self, model: DeepFN) -> None:
        super().__init__()
        self.model = model
        stages = len(model.preset.encoder_channels)
        per_stage = len(model.encoder.down) // stages
        self.split_enc = per_stage * (stages - 1)  # after the third stride-2 stage: 8x8 for a 64x64 input
        enc_ch = model.preset.encoder_channels[-2]
        per_dec = len(model.template_decoder.net[:-2]) // len(model.preset.decoder_channels)
        self.split_dec = per_dec  # after the decoder's first pixel shuffle: 8x8
        dec_ch = model.preset.decoder_channels[0] // 4
        self.proj_t = torch.nn.Conv2d(enc_ch, dec_ch, 1)
        self.proj_s = torch.nn.Conv2d(enc_ch, dec_ch, 1)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(code, 8x8 feature map)."""
        e = self.model.encoder
        h = e.down[: self.split_enc](x)
        z = e.dense[1](e.dense[0](e.down[self.split_enc :](h)))
        return z, h

    def decode(self, z: torch.Tensor, h: torch.Tensor, template: bool, who: torch.Tensor | None = None) -> torch.Tensor:
        """D^y or D^x of centered code and feature map."""
        d = self.model.encoder.expand(z)
        if template:
            net, proj = self.model.template_decoder.net, self.proj_t
        else:
            cond = self.model.subject_decoder
            gamma, beta = cond.film(cond.embedding(who)).chunk(2, dim=1)
            d = d * (1 + gamma[:, :, None, None]) + beta[:, :, None, None]
            net, proj = cond.decoder.net, self.proj_s
        return net[self.split_dec :](net[: self.split_dec](d) + proj(h))


class PersonBatchNorm(torch.nn.BatchNorm2d):
    """BatchNorm whose training statistics are taken per person block of the batch (`groups` equal blocks), so a
    feature is normalized against the same person's frames in training as at normalization (bn_person)."""

    groups = 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.groups == 1:
            return super().forward(x)
        # all blocks at once (a loop over blocks ran at half speed); the running statistics are not updated here:
        # bn_person normalization takes each person's own statistics instead
        g = x.reshape(self.groups, len(x) // self.groups, *x.shape[1:])
        var, mean = torch.var_mean(g, dim=(1, 3, 4), keepdim=True, correction=0)
        y = ((g - mean) * torch.rsqrt(var + self.eps)).reshape(x.shape)
        return y * self.weight[:, None, None] + self.bias[:, None, None]


def _person_bn(model: torch.nn.Module) -> None:
    for name, child in model.named_children():
        if isinstance(child, torch.nn.BatchNorm2d):
            bn = PersonBatchNorm(child.num_features)
            bn.load_state_dict(child.state_dict())
            setattr(model, name, bn)
        else:
            _person_bn(child)


def _set_groups(model: torch.nn.Module, groups: int) -> None:
    for m in model.modules():
        if isinstance(m, PersonBatchNorm):
            m.groups = groups


def _center_maps(h: torch.Tensor, groups: int) -> torch.Tensor:
    n = len(h)
    blocks = h.view(groups, n // groups, *h.shape[1:])
    return (blocks - blocks.mean(1, keepdim=True)).reshape(h.shape)


def train_variant(template: torch.Tensor, subjects: list[torch.Tensor], iters: int = 1500, lr: float = 5e-4,
                  center: bool = True, per: int = 4, grad_w: float = 0.0, side: int = 2, latent: int = 256,
                  warp: float = 0.04, bs: int = 32, seed: int = 0, norm: str = "none", rot: float = 10.0,
                  flip: float = 0.4, cosine: bool = False, skip: bool = False, cycle_w: float = 0.0,
                  shared: bool = False, bn_person: bool = False, bn_groups: bool = False,
                  eq: str = "image", ssim_w: float = 0.0, in_noise: float = 0.0, adv_w: float = 0.0,
                  hard: float = 0.0, dec_last: int = 16, conf_w: float = 0.0, mouth_w: float = 0.0,
                  log: str = "") -> torch.nn.Module:
    """Amortized Eq. 1 training with the variant's options (`eq`, the equalization region, is applied by the caller)."""
    base_affine = augmentation.random_affine

    def affine(n: int, gen: torch.Generator, **_: float) -> torch.Tensor:
        return base_affine(n, gen, rotation=rot, flip=flip)

    augmentation.random_affine = affine  # augment() looks it up at call time
    p = replace(PRESETS["lite"], norm=norm, latent=latent)
    if dec_last != 16:  # a wider last decoder stage: more channels at 32x32 and 64x64 (dec_last / 4 at full size)
        p = replace(p, decoder_channels=(*p.decoder_channels[:-1], dec_last))
    if side in (4, 8):
        p = replace(p, bottleneck_side=side, decoder_channels=(128, 64, 32)[: 3 if side == 4 else 2])
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    # shared: D^y is the conditioned decoder itself, with one more embedding row for the template, so the decoder that
    # renders on the template learns from every person's deviations, not from the template's 300 frames alone
    model = DeepFN(p, n_subjects=len(subjects) + shared)
    model.shared_row = len(subjects) if shared else None
    if bn_groups:
        _person_bn(model)
    # bn_person: normalization takes BatchNorm statistics from the person's own frames (read by transform)
    model.bn_person = bn_person or bn_groups
    net: torch.nn.Module = CenteredSkip(model) if skip else model
    params = list(net.parameters())
    head = None
    if adv_w or conf_w:
        # adversarial identity head: it learns to name the person from the centered code, and the encoder, through a
        # reversed gradient, to make the deviations it passes on say nothing about who made them
        head = torch.nn.Sequential(torch.nn.Linear(p.latent, 256), torch.nn.LeakyReLU(0.1),
                                   torch.nn.Linear(256, len(subjects)))
        params += list(head.parameters())
    opt = torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    running = torch.zeros(len(subjects))  # hard: each person's running reconstruction loss (0 = not seen yet)
    # mouth_w: the pixel loss weighs the mouth region of the aligned crop (1 + mouth_w there), normalized to mean 1
    weight = mouth_weight(template.shape[-1], mouth_w) if mouth_w else None
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, iters) if cosine else None
    sizes = torch.tensor([len(s) for s in subjects])
    offsets = torch.cumsum(sizes, 0) - sizes
    pool = torch.cat(subjects)
    k = bs // per
    start = time.time()
    for it in range(iters):
        t_idx = torch.randint(0, len(template), (bs,), generator=gen)
        who = torch.randperm(len(subjects), generator=gen)[:per].repeat_interleave(k)
        s_idx = offsets[who] + (torch.rand(bs, generator=gen) * sizes[who]).long()
        y_in, y_out = augment(template[t_idx], gen, warp=warp)
        x_in, x_out = augment(pool[s_idx], gen, warp=warp)
        if in_noise:
            # noise of a random strength on the inputs only: equalization spreads a dark face's sensor noise over
            # more grey levels, so the encoder must read expressions through noise whatever its level
            for batch in (y_in, x_in):
                level = torch.rand(len(batch), 1, 1, 1, generator=gen) * in_noise
                batch.add_(torch.randn(batch.shape, generator=gen) * level).clamp_(0, 1)
        if skip:
            (zy, hy), (zx, hx) = net.encode(y_in), net.encode(x_in)
            yr = net.decode(center_codes(zy, 1), _center_maps(hy, 1), True)
            xr = net.decode(center_codes(zx, per), _center_maps(hx, per), False, who)
        else:
            _set_groups(model, 1)
            zy = model.encoder.embed(y_in)
            if center:
                zy = center_codes(zy, 1)
            yr = _decode_template(model, zy)
            _set_groups(model, per)
            zx = model.encoder.embed(x_in)
            if center:
                zx = center_codes(zx, per)
            xr = model.subject_decoder(model.encoder.expand(zx), who)
        if hard:
            # people the model reconstructs worst get more of its capacity: each person block's loss weighted by
            # (running loss / mean running loss) ** hard, the weights normalized to mean 1 in the batch
            per_person = (xr - x_out).abs().view(per, -1).mean(1)
            people = who[::k]
            seen = running[people] == 0
            running[people] = torch.where(
                seen, per_person.detach(), 0.95 * running[people] + 0.05 * per_person.detach()
            )
            ref = running[running > 0].mean()
            w = (running[people] / ref) ** hard
            subject_loss = (w / w.mean() * per_person).mean()
        else:
            subject_loss = (xr - x_out).abs().mean()
        if weight is not None:  # (replaces `hard`'s weighting: the two are not combined)
            subject_loss = ((xr - x_out).abs() * weight).mean()
            loss = ((yr - y_out).abs() * weight).mean() + subject_loss
        else:
            loss = (yr - y_out).abs().mean() + subject_loss
        if head is not None and adv_w:
            zc = center_codes(zx, per) if not center else zx
            loss = loss + adv_w * torch.nn.functional.cross_entropy(head(_Reverse.apply(zc)), who)
        elif head is not None:
            # confusion instead of a reversed gradient (which lets the encoder win by inflating the code): the head
            # learns from detached codes, the encoder is pulled towards a uniform guess of a frozen copy of the head
            zc = center_codes(zx, per) if not center else zx
            loss = loss + torch.nn.functional.cross_entropy(head(zc.detach()), who)
            (w1, b1), (w2, b2) = ((m.weight.detach(), m.bias.detach()) for m in (head[0], head[2]))
            frozen = torch.nn.functional.linear(torch.nn.functional.leaky_relu(
                torch.nn.functional.linear(zc, w1, b1), 0.1), w2, b2)
            loss = loss - conf_w * torch.log_softmax(frozen, 1).mean()
        if cycle_w and not skip:
            # latent cycle: the subject's deviation rendered on the template must encode back to the same deviation,
            # so D^y cannot drop what the code says (the expression) when the code comes from someone else
            zc = center_codes(zx, per) if not center else zx
            on_template = model.template_decoder(model.encoder.expand(zc))
            back = center_codes(model.encoder.embed(on_template), per)
            loss = loss + cycle_w * (back - zc.detach()).abs().mean()
        if grad_w:
            loss = loss + grad_w * (image_gradient_l1(yr, y_out) + image_gradient_l1(xr, x_out))
        if ssim_w:
            loss = loss + ssim_w * ((1 - ssim(yr, y_out)) + (1 - ssim(xr, x_out)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        if (it + 1) % 250 == 0:
            print(f"{log} it {it + 1} loss {loss.item():.4f} {time.time() - start:.0f}s", flush=True)
    augmentation.random_affine = base_affine
    net.eval()
    return net


def mouth_weight(size: int, extra: float) -> torch.Tensor:
    """(1, 1, size, size) loss weights, mean 1: 1 + `extra` on a soft ellipse over the mouth of an aligned crop
    (centre 0.5, 0.76 of the width and height; half-axes 0.2 and 0.1), where darker faces' low-contrast lip corners
    (AU12) are carried worst."""
    yy, xx = np.mgrid[0:size, 0:size]
    u, v = (xx + 0.5 - 0.5 * size) / (0.2 * size), (yy + 0.5 - 0.76 * size) / (0.1 * size)
    m = cv2.GaussianBlur((u**2 + v**2 <= 1).astype(np.float32), (0, 0), size / 32)
    w = torch.from_numpy(1 + extra * m)
    return (w / w.mean())[None, None]


class _Reverse(torch.autograd.Function):
    """Identity forward, negated gradient backward (Ganin & Lempitsky 2015): the encoder works against the head."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
        return -grad


def ssim(a: torch.Tensor, b: torch.Tensor, sigma: float = 1.5, size: int = 7) -> torch.Tensor:
    """Mean structural similarity of two (n, 1, H, W) batches in [0, 1] (Gaussian window; Wang et al. 2004): it
    compares local structure after dividing out local contrast, so a low-contrast brow counts like a high-contrast
    one."""
    x = torch.arange(size, dtype=a.dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    w = (g[:, None] * g[None, :] / g.sum() ** 2)[None, None]

    def blur(t: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.conv2d(t, w, padding=size // 2)

    c1, c2 = 0.01**2, 0.03**2
    ma, mb = blur(a), blur(b)
    va, vb, cov = blur(a * a) - ma**2, blur(b * b) - mb**2, blur(a * b) - ma * mb
    return (((2 * ma * mb + c1) * (2 * cov + c2)) / ((ma**2 + mb**2 + c1) * (va + vb + c2))).mean()


def _decode_template(model: DeepFN, z: torch.Tensor) -> torch.Tensor:
    if getattr(model, "shared_row", None) is None:
        return model.template_decoder(model.encoder.expand(z))
    return model.subject_decoder(model.encoder.expand(z), torch.full((len(z),), model.shared_row))


def face_only(x: torch.Tensor, scale: float) -> torch.Tensor:
    """`mask` variant: the background outside the whole face (the inner-face ellipse x `scale`) set to mid-grey, as
    the package's `background="grey"` does at its FACE_ONLY_SCALE (histeq.grey_background); 0 leaves `x` as it is."""
    from auditkit.normalizers.histeq import grey_background

    if not scale:
        return x
    return torch.from_numpy(grey_background(x[:, 0].numpy(), grey=0.5, scale=scale)).unsqueeze(1)


@torch.inference_mode()
def transform(
    model: torch.nn.Module, faces: np.ndarray, center: bool, eq: str = "image", mask: float = 0.0
) -> np.ndarray:
    """D^y(E(x) - mean E(x)) (centered) or D^y(E(x)) of one person's faces, uint8 at the model's size."""
    if isinstance(model, CenteredSkip):
        x = face_only(preprocess(faces, model.model.preset.size, eq), mask)
        parts = [model.encode(x[i : i + 256]) for i in range(0, len(x), 256)]
        z, h = torch.cat([a for a, _ in parts]), torch.cat([b for _, b in parts])
        z, h = z - z.mean(0, keepdim=True), h - h.mean(0, keepdim=True)
        y = torch.cat([model.decode(z[i : i + 256], h[i : i + 256], True) for i in range(0, len(z), 256)])
        return (y.squeeze(1).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    x = face_only(preprocess(faces, model.preset.size, eq), mask)
    if getattr(model, "bn_person", False):
        # BatchNorm statistics of this person's frames, all at once (as training took them per person)
        model.train()
        _set_groups(model, 1)
        z = model.encoder.embed(x)
        if center:
            z = z - z.mean(0, keepdim=True)
        y = _decode_template(model, z)
        model.eval()
        return (y.squeeze(1).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()
    z = torch.cat([model.encoder.embed(x[i : i + 256]) for i in range(0, len(x), 256)])
    if center:
        z = z - z.mean(0, keepdim=True)
    y = torch.cat([_decode_template(model, z[i : i + 256]) for i in range(0, len(z), 256)])
    return (y.squeeze(1).clamp(0, 1) * 255 + 0.5).to(torch.uint8).numpy()


def record(out: Path, result: dict) -> None:
    """Append one result line and print it."""
    with open(out / "results.jsonl", "a") as f:
        f.write(json.dumps(result) + "\n")
    print(result, flush=True)


GROUPS = ("darker", "lighter")


def table(out: Path) -> str:
    """The screening results as markdown: probe, within, cross, the share of the oracle's cross gain, and per test
    group (darker, lighter) the cross-group score and share, the within-group score and the cross-group score at equal
    base rates (runs before it was recorded: —)."""
    rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines() if line.strip()]
    merged: dict[str, dict] = {}
    for r in rows:  # early runs wrote their options and training time on a line of their own
        merged.setdefault(r["name"], {}).update(r)
    scored = {n: r for n, r in merged.items() if "cross" in r}
    none, oracle = scored["none"], scored["oracle"]

    def share(r: dict, key: str) -> str:
        if key not in r or key not in none or key not in oracle:
            return "—"
        return f"{100 * (r[key] - none[key]) / (oracle[key] - none[key]):.0f} %"

    def pair(r: dict, kind: str) -> str:
        return " / ".join(f"{r[f'{kind}_{g}']:.1f}" if f"{kind}_{g}" in r else "—" for g in GROUPS)

    lines = ["| variant | options | train s | probe | within | cross | share of the oracle's cross gain | "
             "cross darker / lighter | share darker / lighter | within darker / lighter | "
             "cross darker / lighter at equal base rates |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in scored.items():
        opts = json.dumps(r.get("options") or r.get("kw") or {}).replace("|", "/")
        lines.append(f"| {name} | `{opts}` | {r.get('train_s', '—')} | {r['probe']:.3f} | {r['within']:.1f} | "
                     f"{r['cross']:.1f} | {share(r, 'cross')} | {pair(r, 'cross')} | "
                     f"{share(r, 'cross_darker')} / {share(r, 'cross_lighter')} | {pair(r, 'within')} | "
                     f"{pair(r, 'cross_adj')} |")
    return "\n".join(lines) + "\n"


def template_table(outs: list[Path], skin: dict[str, int] | None = None) -> str:
    """One row per (template, normalizer) from screens run with --template (each in its own --out, named
    ...-TEMPLATE): the cross-group score and share, and the darker − lighter difference with every model that tested
    a subject counted, as scored and at equal base rates, with the normalizer's change of it against none on the
    same subjects. `skin`: each template's Fitzpatrick type (default: read from the synthetic default)."""
    if skin is None:
        skin = load_dataset(str(cache_root() / "synth-default")).subjects.set_index("subject")["fitzpatrick"].to_dict()
    lines = ["| template (skin type) | normalizer | cross | share of the oracle's cross gain | all models: darker / "
             "lighter | difference | change vs none | at equal base rates: difference | change vs none |",
             "|---|---|---|---|---|---|---|---|---|"]
    for out in outs:
        rows: dict[str, dict] = {}
        for line in (out / "results.jsonl").read_text().splitlines():
            if line.strip():
                r = json.loads(line)
                rows.setdefault(r["name"], {}).update(r)
        template = out.name.rsplit("-", 1)[-1]
        none, oracle = rows["none"], rows["oracle"]

        def diff(r: dict, key: str = "") -> float:
            return r[f"all_{key}darker"] - r[f"all_{key}lighter"]

        for name, r in rows.items():
            if "all_darker" not in r:
                continue
            gain = oracle["cross"] - none["cross"]
            share = f"{100 * (r['cross'] - none['cross']) / gain:.0f} %"
            change = {key: "—" if name == "none" else f"{diff(r, key) - diff(none, key):+.1f}" for key in ("", "adj_")}
            lines.append(f"| {template} ({int(skin[template])}) | {name} | {r['cross']:.1f} | "
                         f"{share} | {r['all_darker']:.1f} / {r['all_lighter']:.1f} | {diff(r):+.1f} | {change['']} | "
                         f"{diff(r, 'adj_'):+.1f} | {change['adj_']} |")
    return "\n".join(lines) + "\n"


def write_block(name: str, markdown: str) -> None:
    """Replace benchmarks/README.md's <!-- name --> block with this output (never typed by hand)."""
    from readme_figures import replace_block  # the same folder: one block-replacing rule for every benchmark

    readme = Path(__file__).resolve().parent / "README.md"
    readme.write_text(replace_block(readme.read_text(), name, markdown))


def main() -> None:
    """Score the floor/ceiling normalizers, or train and score one variant."""
    for flag, block in (("--template-table", "screen-templates"), ("--table", "screen-groups")):
        if flag not in sys.argv:
            continue
        rest = [Path(a) for a in sys.argv[sys.argv.index(flag) + 1:] if not a.startswith("--")]
        markdown = (
            template_table(rest) if flag == "--template-table" else table(rest[0] if rest else Path("audits/screen"))
        )
        print(markdown, end="")
        if "--update-readme" in sys.argv:
            write_block(block, markdown)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", help="none | oracle | histeq | deepfn (built-in normalizers) or a variant's name")
    parser.add_argument("options", nargs="?", default=None, help="JSON options of a variant")
    parser.add_argument("--data", default=str(cache_root() / "synth-default"))
    parser.add_argument("--out", type=Path, default=Path("audits/screen"))
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("SCREEN_JOBS", "2")))
    parser.add_argument("--rescore", action="store_true",
                        help="score NAME's saved inputs (OUT/NAME.npy) again without training, e.g. after the scoring "
                             "gained a figure; the new line updates NAME's row")
    parser.add_argument("--template", default=None,
                        help="another template subject (use its own --out: none and the oracle change with it)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    p = plan(args.data, template=args.template)
    start = time.time()
    if args.rescore:
        inputs = args.out / f"{args.name}.npy"
        if not inputs.is_file():
            inputs = prepare_inputs(p, args.name, AuditDir(args.out))
        record(args.out, {"name": args.name, **audit(inputs, p, args.jobs)})
        return
    if args.options is None:
        inputs = prepare_inputs(p, args.name, AuditDir(args.out))
        kw: dict = {}
    else:
        kw = json.loads(args.options)
        ds = p.dataset
        eq, mask = kw.get("eq", "image"), kw.get("mask", 0.0)
        template = face_only(preprocess(ds.faces_of(p.template), 64, eq), mask)
        model = train_variant(template, [face_only(preprocess(ds.faces_of(s), 64, eq), mask) for s in p.scope],
                              log=args.name, **{k: v for k, v in kw.items() if k != "mask"})
        subjects = ds.frames.subject.to_numpy()[scope_rows(p)]
        X = np.empty((len(subjects), 64, 64), np.uint8)
        for s in p.scope:
            X[np.flatnonzero(subjects == s)] = transform(model, ds.faces_of(s), kw.get("center", True), eq, mask)
        inputs = args.out / f"{args.name}.npy"
        np.save(inputs, X)
    train_s = round(time.time() - start)
    record(args.out, {"name": args.name, "options": kw, "train_s": train_s, "probe": probe(inputs, p),
                      **audit(inputs, p, args.jobs)})


if __name__ == "__main__":
    main()
