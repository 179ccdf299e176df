"""Benchmark: how much AU information each test group's faces carry, in each normalizer's inputs to LeNet-5.

Why does one group normalize worse? This reads a finished audit's cached 64x64 inputs (one array per normalizer, in
the audit's frame order; extra arrays in the same order with --inputs NAME=PATH, e.g. a screening variant's output)
and, for the originals, equalizes the faces itself by the whole image and by the inner face. Per array and test
group it measures:

- within-person probe: per person, a linear AU probe (32x32 pixels, logistic regression) trained on half of their
  sequences and tested on the other half; mean balanced accuracy over the AUs, averaged over the group's people;
- cross-person probe: trained on one group's people, tested on the other's (within a group: half its people → the
  other half), the same probe;
- AU contrast: per person and AU, the root mean square of (mean face with the AU − mean face without it), grey levels
  (pixel noise leaves a floor under it);
- per AU: the cross-person probe within each group, AU by AU (which movements a group's faces carry worse).

With --person-audit (a finished `gap --attr person` audit) it also tables that audit's scores by skin type:
person-dependent models learn one person's own frames, so where they score one group lower on a normalizer's faces
than on the originals, that normalizer has lost the group's AU information (not the cross-person transfer).

Run:  python benchmarks/bench_group_inputs.py --audit audits/replication/fitzpatrick [--inputs NAME=PATH ...]
      [--person-audit audits/replication/person] [--update-readme]
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
import warnings
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

AUS = ("AU01", "AU02", "AU04", "AU06", "AU12", "AU15", "AU17")
README = Path(__file__).resolve().parent / "README.md"
BLOCK = "group-inputs"


def features(images: np.ndarray) -> np.ndarray:
    """Each face resized to 32x32 (area), flattened, in [0, 1]."""
    return np.stack([cv2.resize(x, (32, 32), interpolation=cv2.INTER_AREA) for x in images]).reshape(
        len(images), -1) / 255.0


def _probe(X: np.ndarray, y: np.ndarray, train: np.ndarray, test: np.ndarray) -> float | None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    train, test = train & (y >= 0), test & (y >= 0)
    if len(set(y[train])) < 2 or len(set(y[test])) < 2:
        return None
    model = LogisticRegression(C=0.1, max_iter=500, class_weight="balanced").fit(X[train], y[train])
    return float(balanced_accuracy_score(y[test], model.predict(X[test])))


def _mean(values: list[float | None]) -> float:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else float("nan")


def measure(images: np.ndarray, frames: pd.DataFrame, group_of: dict[str, str]) -> dict:
    """The three measures of one input array (rows = frames) per test group."""
    X = features(images)
    pixels = images.astype(np.float32)
    subjects = frames["subject"].to_numpy()
    groups = sorted(set(group_of.values()))
    out: dict = {"within_person": {}, "cross_person": {}, "au_contrast": {}}
    per_person: dict[str, list[float]] = {g: [] for g in groups}
    contrast: dict[str, list[float]] = {g: [] for g in groups}
    for person, group in group_of.items():
        rows = np.flatnonzero(subjects == person)
        sequences = frames["sequence"].to_numpy()[rows]
        first = np.isin(sequences, sorted(set(sequences))[: len(set(sequences)) // 2])
        scores, amplitudes = [], []
        mask_tr, mask_te = np.zeros(len(X), bool), np.zeros(len(X), bool)  # the person's two halves, for every AU
        mask_tr[rows[first]], mask_te[rows[~first]] = True, True
        for au in AUS:
            y = frames[au].to_numpy()[rows]
            scores.append(_probe(X, frames[au].to_numpy(), mask_tr, mask_te))
            on, off = pixels[rows[y == 1]], pixels[rows[y == 0]]
            if len(on) >= 5 and len(off) >= 5:
                amplitudes.append(float(np.sqrt(((on.mean(0) - off.mean(0)) ** 2).mean())))
        per_person[group].append(_mean(scores))
        contrast[group].append(_mean(amplitudes))
    members = {g: sorted(p for p, q in group_of.items() if q == g) for g in groups}
    for a in groups:
        for b in groups:
            if a == b:
                half = len(members[a]) // 2
                train, test = np.isin(subjects, members[a][:half]), np.isin(subjects, members[a][half:])
            else:
                train, test = np.isin(subjects, members[a]), np.isin(subjects, members[b])
            per_au = {au: _probe(X, frames[au].to_numpy(), train, test) for au in AUS}
            out["cross_person"][f"{a} -> {b}"] = _mean(list(per_au.values()))
            if a == b:  # which AUs a group's faces carry worse from one person to the next
                out.setdefault("per_au", {})[a] = {
                    au: (v if v is not None else float("nan")) for au, v in per_au.items()
                }
    out["within_person"] = {g: float(np.nanmean(v)) for g, v in per_person.items()}
    out["au_contrast"] = {g: float(np.nanmean(v)) for g, v in contrast.items()}
    return out


def equalized_originals(ds, frames: pd.DataFrame, region: str, size: int = 64) -> np.ndarray:
    """The audit's original faces equalized by `region`, resized as DeepFN's preprocessing does."""
    from auditkit.normalizers.histeq import equalize

    faces = equalize(np.asarray(ds.faces[frames["face"].to_numpy()]), region)
    return np.stack([cv2.resize(f, (size, size), interpolation=cv2.INTER_AREA) for f in faces])


def markdown(results: dict[str, dict], groups: list[str], command: str) -> str:
    """One row per input array."""
    a, b = groups
    cells = [f"{a} → {a}", f"{a} → {b}", f"{b} → {a}", f"{b} → {b}"]
    lines = [f"`{command}`", "",
             f"| inputs | within-person probe {a} / {b} | cross-person probe {' · '.join(cells)} | "
             f"AU contrast {a} / {b} (grey levels) |", "|---|---|---|---|"]
    for name, r in results.items():
        cross = " · ".join(f"{r['cross_person'][f'{x} -> {y}']:.3f}" for x, y in ((a, a), (a, b), (b, a), (b, b)))
        lines.append(f"| {name} | {r['within_person'][a]:.3f} / {r['within_person'][b]:.3f} | {cross} | "
                     f"{r['au_contrast'][a]:.1f} / {r['au_contrast'][b]:.1f} |")
    return "\n".join(lines) + "\n"


def per_au_markdown(results: dict[str, dict], groups: list[str]) -> str:
    """One row per input array: each AU's cross-person probe within each group (half its people → the other half)."""
    a, b = groups
    lines = [f"| inputs | {' | '.join(AUS)} |", "|---|" + "---|" * len(AUS)]
    for name, r in results.items():
        cells = [f"{r['per_au'][a][au]:.2f} / {r['per_au'][b][au]:.2f}" for au in AUS]
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines) + "\n"


def person_by_group(audit: Path, attr: str = "fitzpatrick") -> pd.DataFrame:
    """A person audit's mean per-subject score (%) per normalizer, condition and `attr` group (its default bins)."""
    from auditkit.data import load_dataset
    from auditkit.protocol.groups import attribute_labels
    from auditkit.report.render import load_run
    from auditkit.report.tables import audit_tables

    results, run = load_run(audit)
    scores = audit_tables(results, int(run["config"]["seed"])).scores
    subjects = load_dataset(run["data"]).subjects
    label = dict(zip(subjects["subject"], attribute_labels(subjects, attr, None), strict=False))
    scores = scores.assign(group=scores["subject"].map(label)).dropna(subset=["group"])
    per_subject = scores.groupby(["normalizer", "condition", "group", "subject"])["score"].mean()
    table = per_subject.groupby(["normalizer", "condition", "group"]).mean().unstack("group") * 100
    counts = per_subject.reset_index().groupby("group")["subject"].nunique()
    table.attrs["subjects"] = counts.to_dict()
    return table


def person_markdown(table: pd.DataFrame) -> str:
    """Rows: normalizer and model kind; columns: each group's mean score and the difference."""
    a, b = sorted(table.columns)
    n = table.attrs.get("subjects", {})
    kinds = {"within": "person-dependent", "cross": "person-independent"}
    lines = [f"| normalizer | models | {a} ({n.get(a, '?')} people) | {b} ({n.get(b, '?')} people) | {a} − {b} |",
             "|---|---|---|---|---|"]
    for (norm, condition), row in table.iterrows():
        lines.append(f"| {norm} | {kinds.get(condition, condition)} | {row[a]:.1f} | {row[b]:.1f} | "
                     f"{row[a] - row[b]:+.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Measure every input array of the audit (and the extras), print JSON and the markdown table."""
    from auditkit.data import load_dataset
    from auditkit.protocol.audit_dir import AuditDir

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--audit", type=Path, required=True, help="a finished two-group audit (e.g. fitzpatrick)")
    parser.add_argument("--inputs", action="append", default=[], metavar="NAME=PATH",
                        help="another (frames, 64, 64) uint8 .npy in the audit's frame order")
    parser.add_argument("--person-audit", type=Path, default=None,
                        help="a finished person audit: its scores by skin type, per normalizer and model kind")
    parser.add_argument("--update-readme", action="store_true", help=f"write the table into the {BLOCK} block")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    run = json.loads((args.audit / "run.json").read_text())
    pools = run["plan"]["pools"]
    if len(pools) != 2:
        raise SystemExit(f"{args.audit}: {len(pools)} groups; this benchmark compares two")
    group_of = {s: g for g, members in pools.items() for s in members}
    ds = load_dataset(run["data"])
    frames = ds.frames[ds.frames["subject"].isin(run["plan"]["scope"])].reset_index(drop=True)
    arrays: dict[str, np.ndarray] = {
        "originals, equalized by the image": equalized_originals(ds, frames, "image"),
        "originals, equalized by the face": equalized_originals(ds, frames, "face")}
    for norm in run["config"]["normalizers"]:
        path = AuditDir(args.audit).find_inputs(norm)
        if path is None:
            raise SystemExit(f"{args.audit}: no cached inputs of {norm} (run the audit first)")
        arrays[f"{norm} (the audit's inputs)"] = np.load(path)
    for item in args.inputs:
        name, sep, path = item.partition("=")
        if not sep:
            raise SystemExit(f"--inputs {item!r}: expected NAME=PATH")
        arrays[name] = np.load(path)
    results = {}
    for name, images in arrays.items():
        if len(images) != len(frames):
            raise SystemExit(f"{name}: {len(images)} faces, the audit has {len(frames)} frames")
        print(f"measuring {name}", file=sys.stderr, flush=True)
        results[name] = measure(images, frames, group_of)
    print(json.dumps(results, indent=2))
    extra = "".join(f" --inputs {shlex.quote(i)}" for i in args.inputs)
    extra += f" --person-audit {args.person_audit}" if args.person_audit else ""
    table = markdown(results, sorted(pools), f"python benchmarks/bench_group_inputs.py --audit {args.audit}{extra}")
    a, b = sorted(pools)
    table += (f"\nPer AU, the cross-person probe within each group ({a} / {b}: half of the group's people → the "
              f"other half):\n\n" + per_au_markdown(results, sorted(pools)))
    if args.person_audit is not None:
        table += (
            "\nThe person split's scores by skin type (mean over test subjects, %; person-dependent models are "
            "trained on the test person's own other sequences):\n\n"
            + person_markdown(person_by_group(args.person_audit))
        )
    print(table)
    if args.update_readme:
        text = README.read_text()
        pattern = re.compile(f"<!-- {BLOCK}:begin -->.*?<!-- {BLOCK}:end -->", re.S)
        if not pattern.search(text):
            raise SystemExit(f"{README}: no {BLOCK} block")
        README.write_text(pattern.sub(lambda _: f"<!-- {BLOCK}:begin -->\n{table}<!-- {BLOCK}:end -->", text))


if __name__ == "__main__":
    main()
