"""The notebook API: one call runs (or resumes) an audit and returns tidy tables, as the CLI's `gap` does."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from auditkit.errors import AuditkitError


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
    disparity_summary: pd.DataFrame  # per normalizer and AU: difference and ratio between groups, with bootstrap CIs

    def to_html(self, path: str | Path | None = None) -> Path:
        """Write the self-contained report (and summary.json, summary.md beside the audit); returns its path."""
        from auditkit.report.render import build_report

        return build_report(self.out, path)


def gap(data: str | Path | None = None, *, attr: str | list[str], normalizers: list[str] | tuple[str, ...] = ("none",),
        preset: str = "default", out: str | Path | None = None, classifier: str = "lenet5",
        normalizer_options: dict[str, dict] | None = None, repeats: int | None = None, seed: int = 0,
        jobs: int = -1, force: bool = False, **protocol: object) -> AuditResult:
    """Run (or resume) `auditkit gap` from Python: `auditkit.gap(data, attr="fitzpatrick", normalizers=["deepfn"])`.

    `data` None uses the synthetic default (rendered once); `out` None writes to a temporary directory. Other
    keyword arguments are the protocol's (n_train, n_val, bins, source, template, epochs), validated like the CLI's.
    """
    from auditkit.plugins import parse_normalizer_options
    from auditkit.protocol.runner import AuditConfig, run_audit
    from auditkit.report.tables import audit_tables, ceiling_shares, headline

    attrs = tuple([attr] if isinstance(attr, str) else attr)
    allowed = {"n_train", "n_val", "bins", "source", "template", "epochs"}
    unknown = sorted(set(protocol) - allowed)
    if unknown:
        raise AuditkitError(f"gap: unknown argument {unknown[0]!r} (protocol arguments: {', '.join(sorted(allowed))})")
    if data is None:
        from auditkit.data.synth.default import ensure_default_dataset

        data = ensure_default_dataset()
    norms = tuple(dict.fromkeys(("none", *normalizers)))
    items = [f"{n}.{k}={v}" for n, opts in (normalizer_options or {}).items() for k, v in opts.items()]
    parse_normalizer_options(items, norms)  # the same checks as --normalizer-option (values keep their types)
    cfg = AuditConfig.from_preset(preset, data=str(data), attr=attrs, normalizers=norms, classifier=classifier,
                                  repeats=repeats, seed=seed, normalizer_options=normalizer_options or {}, **protocol)
    out = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="auditkit-"))
    results = run_audit(cfg, out, jobs=jobs, force=force)
    tables = audit_tables(results, seed)
    gaps = pd.concat([headline(tables, n).assign(normalizer=n) for n in norms], ignore_index=True)
    return AuditResult(out, results, tables.scores, tables.conditions, gaps, tables.tests,
                       ceiling_shares(tables.conditions), tables.disparity_groups, tables.disparity_summary)
