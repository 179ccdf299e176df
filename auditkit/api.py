"""The notebook API: one call runs (or resumes) an audit and returns tidy tables, as the CLI's `gap` does."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from auditkit.errors import AuditkitError
from auditkit.normalizers.base import with_baseline


@dataclass
class AuditResult:
    """An audit's results as tidy DataFrames in the report's units (scores, rates, gaps, differences and intervals in
    percent: points; `results`, the stored rows, in fractions 0-1), and its directory."""

    out: Path
    results: pd.DataFrame  # one row per (normalizer, training, test subject, AU)
    scores: pd.DataFrame  # per (normalizer, condition, train group, test group, repetition, subject)
    conditions: pd.DataFrame  # the paper's Table 5 rows: mean ± std per train -> test group
    gaps: pd.DataFrame  # per normalizer and test group: within - cross, subject x training CI and p, Holm, the
    # smallest gap detectable at 80% power, the paper's subject t-test p, Hedges' g
    tests: pd.DataFrame  # every test of the audit (gaps and normalizer-vs-none), Holm-corrected per family
    ceiling: pd.DataFrame  # share of the ceiling's gain per normalizer (empty without a ceiling: the oracle)
    # per normalizer, AU (`all`: every AU) and test group: auditkit.stats.disparities.GROUP_COLUMNS
    disparities: pd.DataFrame
    disparity_summary: pd.DataFrame  # per normalizer, AU and pair of groups: signed difference, CI, p (people and
    # trainings), Holm
    missed_frames: pd.DataFrame = field(default_factory=pd.DataFrame)  # predictions audits: per subject, frames
    # the tool gave no prediction for (empty for other audits)
    run: dict = field(default_factory=dict)  # the audit's run.json (config, plan, counts of matched frames, ...)
    disparity_changes: pd.DataFrame = field(default_factory=pd.DataFrame)  # how each normalizer changes each difference
    # the same differences (all AUs) and changes prevalence-calibrated (each group at the pooled base rate):
    # auditkit.stats.base_rates
    disparity_adjusted: pd.DataFrame = field(default_factory=pd.DataFrame)
    disparity_adjusted_changes: pd.DataFrame = field(default_factory=pd.DataFrame)
    # hit and false-alarm rates per normalizer, AU and test group, and their between-group differences (equalized
    # odds): auditkit.stats.error_rates
    error_rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    error_rate_differences: pd.DataFrame = field(default_factory=pd.DataFrame)

    include_faces: bool = False  # the report shows individual faces (`--include-faces`), not only group averages
    tables: object = field(default=None, repr=False)  # the AuditTables these frames come from: to_html reuses them

    def to_html(self, path: str | Path | None = None, include_faces: bool | None = None) -> Path:
        """Write the self-contained report (and summary.json, summary.md beside the audit); returns its path."""
        from auditkit.report.render import build_report

        faces = self.include_faces if include_faces is None else include_faces
        return build_report(self.out, path, include_faces=faces, tables=self.tables)


def gap(data: str | Path | None = None, *, attr: str | list[str], normalizers: list[str] | tuple[str, ...] = ("none",),
        preset: str = "default", out: str | Path | None = None, classifier: str = "lenet5",
        normalizer_options: dict[str, dict] | None = None, repeats: int | None = None, seed: int = 0,
        n_train: int | None = None, n_val: int | None = None, bins: str | None = None, source: str | None = None,
        template: str | None = None, epochs: int | None = None, f1_rule: str = "exclude", jobs: int = -1,
        force: bool = False, cluster: str | None = None, strict_reproducibility: bool = False,
        include_faces: bool = False, progress: Callable[[str, int, int], None] | None = None) -> AuditResult:
    """Run (or resume) a within- vs cross-group audit, as `auditkit gap` does, and return its tables.

    Parameters
    ----------
    data : str or Path, optional
        Dataset directory. None renders the synthetic default once and uses it (the person split has its own,
        with more frames per person: data/synth/default.py).
    attr : str or list of str
        The split: person, gender, fitzpatrick, dataset, any subjects.parquet column, or several (an intersection).
    normalizers : list of str
        Normalizer plugins to compare; `none` always runs first as the baseline. "histeq,deepfn" is read as two.
    preset : {"default", "smoke"}
        Protocol preset (repetitions, epochs, early stopping); the keywords below override it.
    out : str or Path, optional
        Audit directory; the same audit there resumes. None: a new temporary directory.
    classifier : str
        Classifier plugin (default LeNet-5).
    normalizer_options : dict, optional
        {normalizer: {setting: value}}, checked like --normalizer-option.
    repeats, n_train, n_val, epochs : int, optional
        Repetitions, training and validation subjects per draw, training epochs (None: the preset's).
    seed : int
        Seed of every draw and fit.
    bins : str, optional
        Bins of a numeric attribute, e.g. "1-2,5-6" (default for fitzpatrick: the paper's I-II vs V-VI).
    source : str, optional
        Restrict to one source dataset.
    template : str, optional
        The normalizers' template subject (default: the most expressive).
    f1_rule : {"exclude", "one", "zero"}
        F1 of a subject who neither shows nor is predicted to show an AU.
    jobs : int
        Local processes (-1: one per core).
    force : bool
        Discard another audit's results in `out`.
    cluster : str, optional
        Dask scheduler address or "local:N": run the trainings there (default: $AUDITKIT_CLUSTER, as the CLI).
    strict_reproducibility : bool
        Refuse to resume results made in another environment.
    include_faces : bool
        Let the report (`to_html`) show individual faces, not only group averages of at least 5 people.
    progress : callable, optional
        Called as progress(stage, done, total) while faces are normalized and models trained.

    Returns
    -------
    AuditResult
        The audit's tables (scores as fractions) and its directory.
    """
    from auditkit.protocol.cluster import cluster_spec
    from auditkit.protocol.runner import run_audit

    cfg = _audit_config(data, attr, normalizers, preset, normalizer_options, classifier=classifier, repeats=repeats,
                        seed=seed, n_train=n_train, n_val=n_val, bins=bins, source=source, template=template,
                        epochs=epochs, f1_rule=f1_rule)
    with _out(out) as out:
        results = run_audit(cfg, out, jobs=jobs, force=force, progress=progress, cluster=cluster_spec(cluster),
                            strict_reproducibility=strict_reproducibility)
    return _result(out, results, seed, include_faces=include_faces)


def split_names(values: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Names as the command line reads them (one comma list, or a list, e.g. a repeated option, whose items may be
    comma lists): in order, each once. The one reader of --attr, --normalizer and their keywords."""
    items = [values] if isinstance(values, str) else list(values)
    return tuple(dict.fromkeys(n.strip() for v in items for n in str(v).split(",") if n.strip()))


def _attrs(attr: str | list[str]) -> tuple[str, ...]:
    """The attributes of `attr`, "gender,fitzpatrick" read as two (an intersection), as --attr reads them."""
    names = split_names(attr)
    if not names:
        raise AuditkitError("attr (--attr): give an attribute such as fitzpatrick, gender, person or dataset")
    return names


def _checked_normalizers(normalizers: list[str] | tuple[str, ...] | str,
                         normalizer_options: dict[str, dict] | None) -> tuple[tuple[str, ...], dict[str, dict]]:
    """The audit's normalizers (baseline first; "histeq,deepfn" read as two) and their options, checked as
    --normalizer-option's are (`plugins.check_normalizer_options`: typed values kept, text converted)."""
    from auditkit.plugins import check_normalizer_options

    norms = with_baseline(split_names(normalizers))  # "histeq,deepfn": two names, not the letters of one
    try:
        return norms, check_normalizer_options(normalizer_options, norms)
    except AuditkitError as exc:
        raise AuditkitError(f"normalizer_options: {exc}") from None


def _audit_config(data: str | Path | None, attr: str | list[str], normalizers: list[str] | tuple[str, ...] | str,
                  preset: str, normalizer_options: dict[str, dict] | None, **protocol: object) -> object:
    """The AuditConfig of `gap` and `plan`: the synthetic default when `data` is None, options checked."""
    from auditkit.protocol.config import AuditConfig

    attrs = _attrs(attr)
    norms, options = _checked_normalizers(normalizers, normalizer_options)
    if data is None:
        from auditkit.data.synth.default import ensure_default_dataset

        data = ensure_default_dataset(attrs=attrs)
    return AuditConfig.from_preset(preset, data=str(data), attr=attrs, normalizers=norms,
                                   normalizer_options=options, **protocol)


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


def _result(out: Path, results: pd.DataFrame, seed: int = 0, missed: pd.DataFrame | None = None,
            include_faces: bool = False) -> AuditResult:
    """Every table of an audit's results, as the report computes them."""

    from auditkit.protocol.audit_dir import AuditDir
    from auditkit.report.tables import audit_tables, ceiling_shares, headline
    from auditkit.report.units import in_points as p

    run = AuditDir(out).read_run(missing_ok=True)
    tables = audit_tables(results, seed, run)
    norms = list(dict.fromkeys(results["normalizer"]))
    gaps = pd.concat([headline(tables, n).assign(normalizer=n) for n in norms], ignore_index=True)
    return AuditResult(out, results, p(tables.scores), p(tables.conditions), p(gaps), p(tables.tests),
                       p(ceiling_shares(tables.conditions, tables.ceiling)), p(tables.disparity_groups),
                       p(tables.disparity_summary), p(missed) if missed is not None else pd.DataFrame(), run,
                       p(tables.disparity_changes), p(tables.adjusted_summary), p(tables.adjusted_changes),
                       p(tables.error_rates), p(tables.error_rate_differences), include_faces, tables)


def audit_predictions(
    predictions: str | Path, data: str | Path, *, attr: str | list[str], out: str | Path | None = None,
    format: str = "auto", bins: str | None = None, source: str | None = None, faces: str = "best",
    frame_offset: int | None = None, force: bool = False, f1_rule: str = "exclude",
) -> AuditResult:
    """Score a tool's saved per-frame outputs per group, test-only, as `auditkit audit-predictions` does.

    Parameters
    ----------
    predictions : str or Path
        A predictions file or a folder of them (OpenFace 2.0, py-feat, LibreFace, or generic CSV/Parquet).
    data : str or Path
        Dataset directory with the ground-truth labels and demographics.
    attr : str or list of str
        The grouping: gender, fitzpatrick, dataset, any subjects.parquet column, or an intersection.
    out : str or Path, optional
        Audit directory (None: a new temporary directory).
    format : {"auto", "openface", "pyfeat", "libreface", "generic"}
        The files' layout.
    bins : str, optional
        Bins of a numeric attribute, e.g. "1-2,5-6".
    source : str, optional
        Restrict to one source dataset.
    faces : {"best", "error"}
        py-feat frames with several faces: keep the most confident one, or refuse the file.
    frame_offset : int, optional
        Added to the tool's frame numbers (None: detected from its convention and the match counts).
    force : bool
        Discard another audit's results in `out`.
    f1_rule : {"exclude", "one", "zero"}
        F1 of a subject who neither shows nor is predicted to show an AU.

    Returns
    -------
    AuditResult
        Its tables; `missed_frames` lists the frames the tool never served, per subject.
    """
    from auditkit.protocol.audit_dir import AuditDir
    from auditkit.protocol.predictions_audit import audit_predictions as run_predictions

    attrs = _attrs(attr)
    with _out(out) as out:
        results, _ = run_predictions(predictions, data, attrs, out, fmt=format, bins=bins, source=source,
                                     force=force, faces=faces, frame_offset=frame_offset, f1_rule=f1_rule)
    missed_file = AuditDir(out).missed
    missed = pd.read_parquet(missed_file) if missed_file.is_file() else pd.DataFrame()
    return _result(out, results, missed=missed)


def audit_model(model: str | Path, data: str | Path, *, attr: str | list[str],
                normalizers: list[str] | tuple[str, ...] = ("none",), out: str | Path | None = None,
                card: str | Path | None = None, bins: str | None = None, source: str | None = None,
                template: str | None = None, normalizer_options: dict[str, dict] | None = None, seed: int = 0,
                force: bool = False, cluster: str | None = None, f1_rule: str = "exclude",
                progress: Callable[[str, int, int], None] | None = None) -> AuditResult:
    """Test a pretrained model file per group, with and without normalizers in front of it (`auditkit audit-model`).

    Parameters
    ----------
    model : str or Path
        TorchScript (.pt, .ts), torch.export (.pt2) or ONNX (.onnx) model, with its JSON card beside it.
    data : str or Path
        Dataset directory with the ground-truth labels and demographics.
    attr : str or list of str
        The grouping: gender, fitzpatrick, dataset, any subjects.parquet column, or an intersection.
    normalizers : list of str
        Normalizers put in front of the model; `none` always runs too.
    out : str or Path, optional
        Audit directory (None: a new temporary directory).
    card : str or Path, optional
        The model card (default: the model's path with a .json suffix).
    bins, source, template : str, optional
        Bins of a numeric attribute, one source dataset, the normalizers' template subject.
    normalizer_options : dict, optional
        {normalizer: {setting: value}}, checked like --normalizer-option.
    seed : int
        Seed of the normalizers' fits.
    force : bool
        Discard another audit's results in `out`.
    cluster : str, optional
        Dask scheduler address or "local:N": each normalizer's fit and predictions run there (default:
        $AUDITKIT_CLUSTER, as the CLI).
    f1_rule : {"exclude", "one", "zero"}
        F1 of a subject who neither shows nor is predicted to show an AU.
    progress : callable, optional
        Called as progress(stage, done, total) while each normalizer runs.

    Returns
    -------
    AuditResult
    """
    from auditkit.protocol.cluster import cluster_spec
    from auditkit.protocol.model_audit import audit_model as run_model

    attrs = _attrs(attr)
    norms, options = _checked_normalizers(normalizers, normalizer_options)
    with _out(out) as out:
        results, _ = run_model(model, data, attrs, out, normalizers=norms, card=card, bins=bins, source=source,
                               template=template, seed=seed, force=force, normalizer_options=options,
                               cluster=cluster_spec(cluster), f1_rule=f1_rule, progress=progress)
    return _result(out, results, seed)


@dataclass
class ComparisonResult:
    """Several models compared on shared subjects, as tidy DataFrames in the report's units (scores, rates, differences
    and intervals in percent: points), and the output folder."""

    out: Path
    models: pd.DataFrame  # per model: overall score, 95% CI, rank (auditkit.stats.model_comparison.MODEL_COLUMNS)
    groups: pd.DataFrame  # per model and test group: score and CI
    disparities: pd.DataFrame  # per model and pair of groups: signed difference, CI, p, Holm
    pairs: pd.DataFrame  # per pair of models: overall and disparity differences, paired CI, p, Holm across pairs
    subjects: pd.DataFrame  # per model and shared test subject: the score every table is computed from
    counts: pd.DataFrame  # per model: subjects and AUs scored, and how many all models share
    missed_frames: pd.DataFrame  # per model and group (predictions audits): frames the tool never served
    comparison: object = field(repr=False, default=None)  # the auditkit.protocol.comparison.Comparison behind it
    # per model and group: hit and false-alarm rates; per model, pair of groups and rate: difference, CI, p, Holm
    error_rates: pd.DataFrame = field(default_factory=pd.DataFrame)
    error_rate_differences: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_html(self, path: str | Path | None = None) -> Path:
        """Write report.html (and summary.json, summary.md) into the output folder, or the report to `path`."""
        from auditkit.report.comparison_report import build_comparison_report

        return build_comparison_report(self.comparison, self.out, path)


def compare(audits: list[str | Path], *, names: dict[str | Path, str] | None = None, out: str | Path | None = None,
            seed: int = 0) -> ComparisonResult:
    """Compare several audited models side by side on the subjects and AUs they share (`auditkit compare`).

    Parameters
    ----------
    audits : list of str or Path
        Two or more finished audit directories of one dataset and grouping (audit-predictions, audit-model, gap).
    names : dict, optional
        {audit directory: label} (default label: the directory's name).
    out : str or Path, optional
        Where report.html, summary.json and summary.md go (None: a new temporary directory; never an audit).
    seed : int
        Kept for scripts; the comparison's inference (people and trainings, a jackknife) is deterministic.

    Returns
    -------
    ComparisonResult
        The tables as DataFrames, with `.to_html()`. Refusals (one audit, different datasets or groups,
        unfinished audits, duplicate labels) raise AuditkitError before anything is written.
    """
    from auditkit.protocol.comparison import build_comparison, check_names, load_models
    from auditkit.report.comparison_report import build_comparison_report, check_out

    paths = [Path(a) for a in audits]
    labels = check_names(names or {}, paths)
    if out is not None:
        check_out(Path(out))
    comparison = build_comparison(load_models(paths, labels), seed)
    with _out(out) as folder:
        build_comparison_report(comparison, folder)
    from auditkit.report.units import in_points as p

    tables = comparison.tables
    return ComparisonResult(folder, p(tables.models), p(tables.groups), p(tables.disparities), p(tables.pairs),
                            p(comparison.subjects), pd.DataFrame(comparison.counts), p(comparison.missed), comparison,
                            p(tables.error_rates), p(tables.error_rate_differences))


@dataclass
class NormalizeResult:
    """A normalized dataset: where it is, the settings it was made with, and the optional checks' outputs."""

    out: Path  # the normalized dataset directory (load it with auditkit.load_dataset)
    settings: dict  # the normalizer's fitted settings, as its dataset.json provenance records them
    transfer_error: pd.DataFrame | None = None  # per subject (quality=True, synthetic data): grey-level error
    preview: Path | None = None  # the preview PNG, when asked for


def normalize(data: str | Path, out: str | Path, *, normalizer: str = "deepfn", options: dict | None = None,
              template: str | None = None, seed: int = 0, force: bool = False, cluster: str | None = None,
              preview: str | Path | None = None, include_faces: bool = True, quality: bool = False,
              progress: Callable[[str, int, int | None], None] | None = None) -> NormalizeResult:
    """Normalize every face of a dataset into a new dataset directory, as `auditkit normalize` does.

    Parameters
    ----------
    data : str or Path
        Dataset directory to normalize.
    out : str or Path
        Directory for the normalized dataset (refused if it exists and is not empty, unless `force`).
    normalizer : str
        Normalizer plugin.
    options : dict, optional
        The normalizer's settings ({setting: value}; for DeepFN e.g. mode, preset, iterations, recenter); one it
        does not take is refused with the list of those it does.
    template : str, optional
        Template subject (default: the most expressive).
    seed : int
        Seed of the normalizer's fit.
    force : bool
        Replace an existing output directory.
    cluster : str, optional
        Dask scheduler address or "local:N": fit and normalize there as one task (on a GPU worker where one exists).
    preview : str or Path, optional
        PNG path: originals beside normalized faces, and the average face and histogram per group.
    include_faces : bool
        Show individual faces in the preview (False: group averages only).
    quality : bool
        Synthetic data only: each subject's transfer error against the ideal face (0 = the oracle).
    progress : callable, optional
        progress(description, done, total) for the long fit.

    Returns
    -------
    NormalizeResult
    """
    from auditkit.data import load_dataset
    from auditkit.protocol.normalization import normalize_copy, quality_of

    ds = load_dataset(data)
    if quality:
        from auditkit.data.synth.truth import load_truth

        load_truth(ds)  # before any work: only synthetic datasets know the ideal face (a one-line DatasetError)
    normalized = normalize_copy(data, normalizer, out, template=template, force=force,
                                options={**(options or {}), "seed": seed}, cluster=cluster, progress=progress)
    result = NormalizeResult(Path(out), dict(normalized.meta["provenance"].get("normalizer_config") or {}))
    if quality:
        result.transfer_error = quality_of(ds, normalized, seed)
    if preview is not None:
        from auditkit.normalizers.preview import preview_dataset

        result.preview = preview_dataset(ds, normalized, Path(preview), seed, include_faces)
    return result


@dataclass
class InspectResult:
    """What `auditkit inspect` says of a dataset directory."""

    problems: list[AuditkitError]  # every problem found (empty: the dataset loads)
    subjects: pd.DataFrame  # per source dataset: subjects, frames, and counts per gender and skin type
    aus: pd.DataFrame  # per AU and source dataset: base rate among coded frames, coded fraction
    splits: pd.DataFrame  # per split of the paper: can the default protocol run, its groups, or why not
    fingerprint: str | None = None  # the dataset's content fingerprint (None when it does not load)
    faces: int = 0  # face images
    image_size: tuple[int, int] = (0, 0)  # (height, width) of each face
    frames: int = 0


def inspect(data: str | Path) -> InspectResult:
    """Validate a dataset directory and describe it, as `auditkit inspect` does.

    Parameters
    ----------
    data : str or Path
        Dataset directory.

    Returns
    -------
    InspectResult
        Every problem found (no exception for a broken dataset: the list says what is wrong); the other tables are
        empty unless the dataset loads.
    """
    from auditkit.data import load_dataset
    from auditkit.data.inspect import summarize
    from auditkit.data.validate import diagnose
    from auditkit.protocol.feasibility import feasibility

    problems = list(diagnose(data))
    if problems:
        return InspectResult(problems, pd.DataFrame(), pd.DataFrame(), pd.DataFrame())
    ds = load_dataset(data)
    summary = summarize(ds)
    return InspectResult([], summary.subjects, summary.aus, feasibility(ds), ds.fingerprint, len(ds.faces),
                         tuple(ds.image_size), len(ds.frames))


@dataclass
class PlanResult:
    """What an audit will cost before it runs (`auditkit plan`), and with a pilot the repetitions its intervals need."""

    costs: pd.DataFrame  # one row per kind of work: what, count, cpu_core_hours, gpu_hours (NaN: not measured), ...
    subjects_in_scope: int  # the people the plan covers (one source; the template in no group)
    subjects: int  # the dataset's people
    source: str  # the source dataset in scope
    frames_in_scope: int
    epochs: int  # every training's most epochs
    early_stopping: bool  # False: every training runs all its epochs (the costs are then exact, not an upper bound)
    precision: pd.DataFrame | None = None  # with `pilot`: auditkit.precision's rows

    @property
    def cpu_core_hours(self) -> float:
        """All the work's CPU core-hours."""
        return float(self.costs["cpu_core_hours"].sum()) if len(self.costs) else 0.0


def plan(data: str | Path | None = None, *, attr: str | list[str], normalizers: list[str] | tuple[str, ...] = ("none",),
         preset: str = "default", normalizer_options: dict[str, dict] | None = None, repeats: int | None = None,
         n_train: int | None = None, n_val: int | None = None, bins: str | None = None,
         source: str | None = None, pilot: str | Path | None = None, half_width: float = 3.0) -> PlanResult:
    """Count an audit's trainings and normalizer fits and estimate their CPU and GPU hours, as `auditkit plan` does;
    with a pilot audit, also the repetitions its intervals need.

    Parameters
    ----------
    data : str or Path, optional
        Dataset directory (None: the synthetic default).
    attr, normalizers, preset, normalizer_options, repeats, n_train, n_val, bins, source
        As for `gap`.
    pilot : str or Path, optional
        A finished `gap` audit of this design: `precision` then holds the repetitions each headline quantity needs.
    half_width : float
        With `pilot`: the wanted half-width of each 95% interval, in points.

    Returns
    -------
    PlanResult
        `costs`: one row per kind of work (what, count, cpu_core_hours, gpu_hours (NaN: not measured), detail,
        source), each stated by its plugin; the plan's scope; `precision` with a pilot.
    """
    from dataclasses import asdict

    from auditkit.data.dataset import load_dataset
    from auditkit.protocol.costs import estimate
    from auditkit.protocol.plan import make_plan

    cfg = _audit_config(data, attr, normalizers, preset, normalizer_options, repeats=repeats, n_train=n_train,
                        n_val=n_val, bins=bins, source=source)
    ds = load_dataset(cfg.data)
    audit_plan = make_plan(cfg, ds)
    costs = pd.DataFrame([asdict(line) for line in estimate(audit_plan)],
                         columns=["what", "count", "cpu_core_hours", "gpu_hours", "detail", "source"])
    costs["gpu_hours"] = costs["gpu_hours"].astype(float)  # None (not measured) as NaN
    return PlanResult(costs, len(audit_plan.scope), len(ds.subjects), str(audit_plan.source),
                      int(ds.frames["subject"].isin(audit_plan.scope).sum()), int(cfg.epochs),
                      cfg.patience is not None,
                      precision(pilot, half_width=half_width) if pilot is not None else None)


def precision(pilot: str | Path, *, half_width: float) -> pd.DataFrame:
    """Repetitions a `gap` audit needs for 95% intervals of at most +-`half_width` points, from a finished pilot audit
    of the same design (`auditkit plan --pilot DIR --half-width H`).

    Parameters
    ----------
    pilot : str or Path
        A finished `auditkit gap` audit directory of the design to plan (its people, groups and protocol).
    half_width : float
        The wanted half-width of each 95% interval, in points (e.g. 3 for +-3 points).

    Returns
    -------
    pandas.DataFrame
        One row per headline quantity of every normalizer (the overall gap, the gap per test group, each pair of
        groups' difference): estimate, its half-width now, the pilot's repetitions and subjects, and the repetitions
        needed (NaN where more repetitions cannot get there: the people's part alone is wider, so more people are
        needed), all in points.
    """
    from auditkit.errors import AuditkitError
    from auditkit.report.render import load_run
    from auditkit.report.tables import SCORE_KEYS
    from auditkit.stats import CROSSED_TEST, gap_tests
    from auditkit.stats.crossed import Inference, repetitions_for
    from auditkit.stats.disparities import ALL_AUS, pairwise, subject_metrics
    from auditkit.stats.metrics import subject_scores

    if not half_width > 0:
        raise AuditkitError(f"--half-width: must be above 0 points (got {half_width})")
    results, _run = load_run(Path(pilot))
    if (results["condition"] == "test-only").all():
        raise AuditkitError(f"{pilot}: a test-only audit has no trainings to repeat; give a `gap` audit as the pilot")
    rows = []

    def add(normalizer: str, quantity: str, estimate: float, se: float, dof: float, var_t: float, reps: int,
            subjects: int, half: float) -> None:
        inf = Inference(estimate, se, dof, estimate - half, estimate + half, float("nan"), float("nan"), var_t,
                        subjects, reps)
        needed = repetitions_for(inf, half_width / 100)
        rows.append({"normalizer": normalizer, "quantity": quantity, "estimate": 100 * estimate,
                     "half_width": 100 * half, "repetitions": reps, "subjects": subjects,
                     "repetitions_needed": float("nan") if needed is None else needed})

    tests = gap_tests(subject_scores(results, SCORE_KEYS))
    gaps = tests[(tests["test"] == CROSSED_TEST) & tests["comparison"].str.startswith("within vs cross")]
    for _, t in gaps.iterrows():
        where = "overall" if t["test_group"] == "all" else f"tested on {t['test_group']}"
        add(t["normalizer"], f"gap ({where})", t["diff"], t["se"], t["dof"], t["var_trainings"],
            int(t["repetitions"]), int(t["n_a"]), (t["ci_high"] - t["ci_low"]) / 2)
    cells = subject_metrics(results, by_repetition=True)
    for norm, part in cells[cells["au"] == ALL_AUS].groupby("normalizer", sort=False):
        for pair in pairwise(part):
            add(str(norm), f"{pair['comparison']} difference", pair["difference"], pair["se"], pair["dof"],
                pair["var_trainings"], int(pair["repetitions"]), int(pair["subjects"]),
                (pair["difference_ci_high"] - pair["difference_ci_low"]) / 2)
    return pd.DataFrame(rows)


def ingest(source: str, root: str | Path, out: str | Path, *, demographics: str | Path | None = None,
           aus: str | None = None, camera: str = "left", threshold: int | None = None,
           allow_missing_demographics: bool = False, skip_unreadable: bool = False, size: int = 128,
           detector: str = "haar", jobs: int = -1, force: bool = False,
           progress: Callable[[int, int], None] | None = None) -> dict:
    """Ingest a licensed dataset from its distributed layout into a dataset directory, as `auditkit ingest` does.

    Parameters
    ----------
    source : str
        bp4d, disfa, or an installed `auditkit.datasets` plugin.
    root : str or Path
        The dataset's root folder as unpacked from the licensed copy.
    out : str or Path
        Dataset directory to write (an interrupted ingest there resumes).
    demographics : str or Path, optional
        CSV/Parquet keyed by subject: gender, fitzpatrick, age, ...
    aus : str, optional
        AUs to keep, e.g. "1,2,4" (default: the dataset's usual 12; "all": every AU in the files).
    camera : {"left", "right"}
        DISFA: which camera's videos.
    threshold : int, optional
        DISFA: intensity counted as present (default 2).
    allow_missing_demographics, skip_unreadable : bool
        Keep subjects without a demographics row; record and skip unreadable images instead of stopping.
    size : int
        Side of the aligned face crops in pixels.
    detector : {"haar", "dlib-hog"}
        Face detector.
    jobs : int
        Worker processes (-1: all cores).
    force : bool
        Replace an existing output (or a partial one with other options).
    progress : callable, optional
        progress(done, total) over the frames.

    Returns
    -------
    dict
        Counts: frames labelled and kept, no face found, unreadable, unlabelled frames skipped, and the subjects
        without a demographics row and the rows matching no subject (`missing_demographics`,
        `unused_demographics`); a plugin source: {"out": path}.
    """
    from auditkit.data.ingest import SOURCES, build_job, ingest_with_plugin, run_ingest
    from auditkit.data.preprocess import PreprocessConfig

    if source not in SOURCES:
        return {"out": str(ingest_with_plugin(source, root, out, demographics, n_jobs=jobs))}
    job = build_job(source, root, demographics, aus=aus, camera=camera, threshold=threshold,
                    allow_missing_demographics=allow_missing_demographics, skip_unreadable=skip_unreadable,
                    preprocess=PreprocessConfig(size=size, detector=detector))
    stats = run_ingest(job, Path(out), n_jobs=jobs, force=force, progress=progress)
    return {**stats, "missing_demographics": list(job.demographics.missing) if demographics is not None else [],
            "unused_demographics": list(job.demographics.unused)}
