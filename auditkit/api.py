"""The notebook API: one call runs (or resumes) an audit and returns tidy tables, as the CLI's `gap` does."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from auditkit.errors import AuditkitError
from auditkit.normalizers.base import with_baseline


@dataclass
class AuditResult:
    """An audit's results as tidy DataFrames (scores in fractions 0-1), and its directory."""

    out: Path
    results: pd.DataFrame  # one row per (normalizer, training, test subject, AU)
    scores: pd.DataFrame  # per (normalizer, condition, train group, test group, repetition, subject)
    conditions: pd.DataFrame  # the paper's Table 5 rows: mean ± std per train -> test group
    gaps: pd.DataFrame  # per normalizer and test group: within - cross, CI, both p-values, Hedges' g
    tests: pd.DataFrame  # every test of the audit (gaps and normalizer-vs-none), Holm-corrected per family
    ceiling: pd.DataFrame  # share of the oracle's gain per normalizer (empty without `oracle`)
    disparities: pd.DataFrame  # per normalizer, AU (`all`: every AU) and test group: auditkit.disparities.GROUP_COLUMNS
    disparity_summary: pd.DataFrame  # per normalizer, AU and pair of groups: signed difference, CI, permutation p
    missed_frames: pd.DataFrame = field(default_factory=pd.DataFrame)  # predictions audits: per subject, frames
    # the tool gave no prediction for (empty for other audits)
    run: dict = field(default_factory=dict)  # the audit's run.json (config, plan, counts of matched frames, ...)
    disparity_changes: pd.DataFrame = field(default_factory=pd.DataFrame)  # how each normalizer changes each difference

    def to_html(self, path: str | Path | None = None) -> Path:
        """Write the self-contained report (and summary.json, summary.md beside the audit); returns its path."""
        from auditkit.report.render import build_report

        return build_report(self.out, path)


def gap(data: str | Path | None = None, *, attr: str | list[str], normalizers: list[str] | tuple[str, ...] = ("none",),
        preset: str = "default", out: str | Path | None = None, classifier: str = "lenet5",
        normalizer_options: dict[str, dict] | None = None, repeats: int | None = None, seed: int = 0,
        jobs: int = -1, force: bool = False, cluster: str | None = None, strict_reproducibility: bool = False,
        **protocol: object) -> AuditResult:
    """Run (or resume) `auditkit gap` from Python: `auditkit.gap(data, attr="fitzpatrick", normalizers=["deepfn"])`.

    `data` None uses the synthetic default (rendered once; the person split has its own, with more frames per
    person: data/synth/default.py); `out` None writes to a temporary directory. Other
    keyword arguments are the protocol's (n_train, n_val, bins, source, template, epochs, f1_rule), validated like
    the CLI's.
    """
    from auditkit.plugins import parse_normalizer_options
    from auditkit.protocol.runner import AuditConfig, run_audit

    attrs = tuple([attr] if isinstance(attr, str) else attr)
    if isinstance(normalizers, str):  # "histeq,deepfn" as the CLI takes it, not the letters of one name
        normalizers = [n.strip() for n in normalizers.split(",") if n.strip()]
    allowed = {"n_train", "n_val", "bins", "source", "template", "epochs", "f1_rule"}
    unknown = sorted(set(protocol) - allowed)
    if unknown:
        raise AuditkitError(f"gap: unknown argument {unknown[0]!r} (protocol arguments: {', '.join(sorted(allowed))})")
    if data is None:
        from auditkit.data.synth.default import ensure_default_dataset

        data = ensure_default_dataset(attrs=attrs)
    norms = with_baseline(normalizers)
    items = [f"{n}.{k}={v}" for n, opts in (normalizer_options or {}).items() for k, v in opts.items()]
    parse_normalizer_options(items, norms)  # the same checks as --normalizer-option (values keep their types)
    cfg = AuditConfig.from_preset(preset, data=str(data), attr=attrs, normalizers=norms, classifier=classifier,
                                  repeats=repeats, seed=seed, normalizer_options=normalizer_options or {}, **protocol)
    with _out(out) as out:
        results = run_audit(cfg, out, jobs=jobs, force=force, cluster=cluster,
                            strict_reproducibility=strict_reproducibility)
    return _result(out, results, seed)


@contextmanager
def _out(out: str | Path | None) -> Iterator[Path]:
    """The audit directory: `out`, or a new temporary one that a failed call removes again (no empty leftovers)."""
    if out is not None:
        yield Path(out)
        return
    made = Path(tempfile.mkdtemp(prefix="auditkit-"))
    try:
        yield made
    except BaseException:
        shutil.rmtree(made, ignore_errors=True)
        raise


def _result(out: Path, results: pd.DataFrame, seed: int = 0, missed: pd.DataFrame | None = None) -> AuditResult:
    """Every table of an audit's results, as the report computes them."""

    from auditkit.protocol.audit_dir import AuditDir
    from auditkit.report.tables import audit_tables, ceiling_shares, headline

    tables = audit_tables(results, seed)
    norms = list(dict.fromkeys(results["normalizer"]))
    gaps = pd.concat([headline(tables, n).assign(normalizer=n) for n in norms], ignore_index=True)
    run = AuditDir(out).read_run(missing_ok=True)
    return AuditResult(out, results, tables.scores, tables.conditions, gaps, tables.tests,
                       ceiling_shares(tables.conditions), tables.disparity_groups, tables.disparity_summary,
                       missed if missed is not None else pd.DataFrame(), run, tables.disparity_changes)


def audit_predictions(predictions: str | Path, data: str | Path, *, attr: str | list[str], out: str | Path | None = None,
                      format: str = "auto", bins: str | None = None, source: str | None = None, faces: str = "best",
                      frame_offset: int | None = None, force: bool = False, f1_rule: str = "exclude",
                      fmt: str | None = None) -> AuditResult:
    """`auditkit audit-predictions` from Python: score a tool's saved outputs per group (test-only).

    `predictions` is a file or a folder of them (OpenFace 2.0, py-feat, LibreFace or generic CSVs); `out` None
    writes to a temporary directory. The result's `missed_frames` lists the frames the tool never served. Keywords
    mirror the CLI's options (`format` for --format; `fmt` is its older spelling).
    """
    from auditkit.protocol.audit_dir import AuditDir
    from auditkit.protocol.predictions_audit import audit_predictions as run_predictions

    attrs = tuple([attr] if isinstance(attr, str) else attr)
    if faces not in ("best", "error"):
        raise AuditkitError(f"audit_predictions: faces must be 'best' or 'error', got {faces!r}")
    with _out(out) as out:
        results, _ = run_predictions(predictions, data, attrs, out, fmt=fmt or format, bins=bins, source=source,
                                     force=force, faces=faces, frame_offset=frame_offset, f1_rule=f1_rule)
    missed_file = AuditDir(out).missed
    missed = pd.read_parquet(missed_file) if missed_file.is_file() else pd.DataFrame()
    return _result(out, results, missed=missed)


def audit_model(model: str | Path, data: str | Path, *, attr: str | list[str],
                normalizers: list[str] | tuple[str, ...] = ("none",), out: str | Path | None = None,
                card: str | Path | None = None, bins: str | None = None, source: str | None = None,
                template: str | None = None, normalizer_options: dict[str, dict] | None = None, seed: int = 0,
                force: bool = False, cluster: str | None = None, f1_rule: str = "exclude") -> AuditResult:
    """`auditkit audit-model` from Python: a pretrained model file (TorchScript, torch.export, ONNX) tested per group,
    with and without normalizers in front of it."""
    from auditkit.plugins import parse_normalizer_options
    from auditkit.protocol.model_audit import audit_model as run_model

    attrs = tuple([attr] if isinstance(attr, str) else attr)
    norms = with_baseline(normalizers)
    items = [f"{n}.{k}={v}" for n, opts in (normalizer_options or {}).items() for k, v in opts.items()]
    parse_normalizer_options(items, norms)  # the same checks as --normalizer-option
    with _out(out) as out:
        results, _ = run_model(model, data, attrs, out, normalizers=norms, card=card, bins=bins, source=source,
                               template=template, seed=seed, force=force, normalizer_options=normalizer_options,
                               cluster=cluster, f1_rule=f1_rule)
    return _result(out, results, seed)


@dataclass
class ComparisonResult:
    """Several models compared on shared subjects, as tidy DataFrames (scores in fractions 0-1), and the output folder."""

    out: Path
    models: pd.DataFrame  # per model: overall score, bootstrap CI, rank (auditkit.model_comparison.MODEL_COLUMNS)
    groups: pd.DataFrame  # per model and test group: score and CI
    disparities: pd.DataFrame  # per model and pair of groups: signed difference, CI, permutation p, Holm
    pairs: pd.DataFrame  # per pair of models: overall and disparity differences, paired CI, p, Holm across pairs
    subjects: pd.DataFrame  # per model and shared test subject: the score every table is computed from
    counts: pd.DataFrame  # per model: subjects and AUs scored, and how many all models share
    missed_frames: pd.DataFrame  # per model and group (predictions audits): frames the tool never served
    comparison: object = field(repr=False, default=None)  # the auditkit.protocol.compare.Comparison behind it

    def to_html(self, path: str | Path | None = None) -> Path:
        """Write report.html (and summary.json, summary.md) into the output folder, or the report to `path`."""
        from auditkit.report.compare import build_comparison_report

        return build_comparison_report(self.comparison, self.out, path)


def compare(audits: list[str | Path], *, names: dict[str | Path, str] | None = None, out: str | Path | None = None,
            seed: int = 0) -> ComparisonResult:
    """`auditkit compare` from Python: several finished audits of one dataset and grouping, side by side.

    `names` maps an audit directory to its label (default: the directory's name); `out` None writes the report to a
    temporary directory. Refusals (one audit, different datasets or groups, unfinished audits, duplicate labels)
    raise AuditkitError before anything is written.
    """
    from auditkit.protocol.compare import build_comparison, check_names, load_models
    from auditkit.report.compare import build_comparison_report, check_out

    paths = [Path(a) for a in audits]
    labels = check_names(names or {}, paths)
    if out is not None:
        check_out(Path(out))
    comparison = build_comparison(load_models(paths, labels), seed)
    with _out(out) as folder:
        build_comparison_report(comparison, folder)
    tables = comparison.tables
    return ComparisonResult(folder, tables.models, tables.groups, tables.disparities, tables.pairs,
                            comparison.subjects, pd.DataFrame(comparison.counts), comparison.missed, comparison)
