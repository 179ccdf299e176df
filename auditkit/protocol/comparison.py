"""The inputs of `auditkit compare`: finished audits of one dataset and one grouping, each model's per-subject scores
on the subjects and AUs every model scored, and what was left out to make them comparable.

A test-only audit (`audit-predictions`, `audit-model`) gives one model per normalizer; a `gap` audit gives one per
normalizer too, scored on its cross-group rows (models tested on groups they were not trained on). Everything is
checked before anything is written: a refusal is one line naming the audit and what differs.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from auditkit.errors import AuditkitError
from auditkit.protocol.audit_dir import RESULTS_FILE, RUN_FILE, AuditDir
from auditkit.protocol.coverage import missed_by_group
from auditkit.stats.disparities import ALL_AUS, subject_metrics
from auditkit.stats.error_rates import rate_cells
from auditkit.stats.metrics import recorded_f1_rule
from auditkit.stats.model_comparison import ModelComparisonTables, compare_models

# what two audits must share to be compared, as run.json holds it: (what it is called in an error, where it is)
# (groups are compared by the people they hold, not by how --bins spelled them: same_groups)
SAME = (("dataset", ("fingerprint",)), ("attribute", ("config", "attr")), ("source", ("config", "source")),
        ("F1 rule for subjects without positives", ("config", "f1_rule")))
CROSS = "cross"  # the rows of a gap audit that say how a model serves people it was not trained on


@dataclass
class ModelEntry:
    """One compared model: its label, the audit it comes from and its per-subject rows."""

    label: str
    audit: Path
    normalizer: str
    kind: str  # "test-only" or "gap"
    run: dict
    results: pd.DataFrame  # the audit's results rows of this model (cross-group rows for a gap audit)
    missed: pd.DataFrame | None  # per subject: frames the tool never served (predictions audits), else None


@dataclass
class Comparison:
    """Compared models, their shared subjects and AUs, the tables, and what had to be left out (said in reports)."""

    entries: list[ModelEntry]
    subjects: pd.DataFrame  # model, test_group, subject, score on the shared subjects and AUs
    aus: list[str]  # the AUs every model scored
    tables: ModelComparisonTables
    counts: list[dict]  # per model: subjects and AUs it scored, and how many are shared
    attr: list[str]
    fingerprint: str
    data: str
    seed: int = 0
    missed: pd.DataFrame = field(default_factory=pd.DataFrame)  # per model and group, on the shared subjects


def _value(run: dict, path: tuple[str, ...]) -> object:
    value: object = run
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def parse_names(items: list[str], audits: list[Path]) -> dict[Path, str]:
    """--name DIR=LABEL items as {resolved audit dir: label}; each DIR must be one of the compared audits (a label
    may hold '=' itself: the DIR is the part before the first '=' that names a compared audit)."""
    known = {p.resolve() for p in audits}
    labels: dict[str | Path, str] = {}
    for item in items:
        cuts = [i for i, ch in enumerate(item) if ch == "="]
        where = next((item[:i] for i in cuts if i and Path(item[:i]).resolve() in known), None)
        if where is None:
            if not cuts or not cuts[0]:
                raise AuditkitError(f"--name: expected DIR=LABEL, got {item!r}")
            raise AuditkitError(f"--name: {item[:cuts[0]]!r} is not one of the compared audits")
        labels[where] = item[len(where) + 1:]
    return check_names(labels, audits)


def check_names(names: dict[str | Path, str], audits: list[Path]) -> dict[Path, str]:
    """{audit dir: label} keyed by resolved path; every dir one of the compared audits, every label non-empty."""
    known = {p.resolve() for p in audits}
    out: dict[Path, str] = {}
    for where, label in names.items():
        if Path(where).resolve() not in known:
            raise AuditkitError(f"--name: {str(where)!r} is not one of the compared audits")
        if not str(label).strip():
            raise AuditkitError(f"--name: the label of {str(where)!r} is empty")
        out[Path(where).resolve()] = str(label).strip()
    return out


def _read(path: Path) -> tuple[dict, pd.DataFrame]:
    """run.json and results.parquet of a finished audit, or a one-line refusal naming what is wrong."""
    if not path.is_dir():
        raise AuditkitError(f"{path}: not a directory (compare takes audit directories)")
    audit = AuditDir(path)
    if not audit.run_file.is_file():
        raise AuditkitError(f"{path}: not an audit directory (no {RUN_FILE})")
    run = audit.read_run()
    recorded_f1_rule(run.get("config") or {}, audit.run_file)
    if not audit.results.is_file():
        raise AuditkitError(f"{path}: unfinished audit (no {RESULTS_FILE}: still running, or cut; finish it by running "
                            "the same command again)")
    results = audit.read_results()
    missing = [n for n in (run.get("config") or {}).get("normalizers") or [] if n not in set(results["normalizer"])]
    if missing:  # an audit with normalizers writes results.parquet after each one (audit-model, gap)
        raise AuditkitError(f"{path}: unfinished audit (no results yet for normalizer {missing[0]!r}; finish it by "
                            "running the same command again)")
    tasks = (run.get("plan") or {}).get("tasks")
    if tasks and "task" in results:  # a gap audit: every training of every normalizer must be in
        expected = len(tasks) * len(run["config"]["normalizers"])
        done = len(results[["normalizer", "task"]].drop_duplicates())
        if done < expected:
            raise AuditkitError(
                f"{path}: unfinished audit ({done} of {expected} trainings in {RESULTS_FILE}; finish it "
                "by running the same command again)"
            )
    return run, results


def _entries(path: Path, run: dict, results: pd.DataFrame, label: str) -> list[ModelEntry]:
    """One entry per normalizer of an audit: its test-only rows, or a gap audit's cross-group rows."""
    test_only = (run.get("config") or {}).get("preset") == "test-only" or (results["condition"] == "test-only").all()
    missed = None
    audit = AuditDir(path)
    if audit.missed.is_file():
        missed = pd.read_parquet(audit.missed)
    present = set(results["normalizer"])  # in the audit's order (results rows are sorted by name)
    norms = [n for n in (run.get("config") or {}).get("normalizers") or [] if n in present]
    norms += sorted(present - set(norms))
    entries = []
    for norm in norms:
        rows = results[results["normalizer"] == norm]
        if not test_only:
            rows = rows[rows["condition"] == CROSS]
        name = label if len(norms) == 1 else f"{label} ({norm})"
        entries.append(ModelEntry(name, path, norm, "test-only" if test_only else "gap", run, rows, missed))
    return entries


def load_models(audits: list[str | Path], names: dict[Path, str] | None = None) -> list[ModelEntry]:
    """Read and check the audits: at least two, each finished, of one dataset and grouping; labels unique."""
    paths = [Path(a) for a in audits]
    if len(paths) < 2:
        raise AuditkitError("compare: give at least two audit directories (one audit has nothing to compare with)")
    seen: dict[Path, Path] = {}
    for p in paths:
        if p.resolve() in seen:
            raise AuditkitError(f"{p}: given twice (the same audit as {seen[p.resolve()]})")
        seen[p.resolve()] = p
    names = names or {}
    loaded = [(p, *_read(p)) for p in paths]
    first_path, first_run, _ = loaded[0]
    for path, run, _ in loaded[1:]:
        for what, where in SAME:
            mine, theirs = _value(first_run, where), _value(run, where)
            if mine != theirs:
                raise AuditkitError(f"{path}: cannot be compared with {first_path}: different {what} "
                                    f"({theirs!r} vs {mine!r})")
    renames = {path: same_groups(first_path, first_run, path, run) for path, run, _ in loaded[1:]}
    loaded = [(path, run, _renamed(results, renames.get(path) or {})) for path, run, results in loaded]
    entries = [e for path, run, results in loaded
               for e in _entries(path, run, results, names.get(path.resolve(), path.resolve().name))]
    labels: dict[str, Path] = {}
    for e in entries:
        if e.label in labels:
            raise AuditkitError(f"--name: two models are labelled {e.label!r} ({labels[e.label]} and {e.audit}); give "
                                "each its own label with --name DIR=LABEL")
        labels[e.label] = e.audit
    return entries


def _placement(run: dict) -> dict[str, str] | None:
    """{subject: group} as the audit's plan placed them (the template, which no group holds, left out); None for
    audits that recorded no pools."""
    plan = run.get("plan") or {}
    pools = plan.get("pools")
    if not isinstance(pools, dict):
        return None
    return {str(s): str(g) for g, members in pools.items() for s in members if s != plan.get("template")}


def same_groups(first_path: Path, first: dict, path: Path, run: dict) -> dict[str, str]:
    """Check that two audits' groups hold the same people, whatever --bins called them; {its name: first's name}
    for the groups named otherwise (empty when every name agrees). Refused in one line where they differ."""
    mine, theirs = _placement(first), _placement(run)
    if mine is None or theirs is None:  # audits from before plans recorded their pools: the spelling must agree
        a, b = _value(first, ("config", "bins")), _value(run, ("config", "bins"))
        if a != b:
            raise AuditkitError(f"{path}: cannot be compared with {first_path}: different bins ({b!r} vs {a!r})")
        return {}
    both = set(mine) & set(theirs)
    held_a = {g: {s for s in both if mine[s] == g} for g in set(mine.values())}
    held_b = {g: {s for s in both if theirs[s] == g} for g in set(theirs.values())}
    rename: dict[str, str] = {}
    for g, people in sorted(held_b.items()):
        match = [h for h, others in held_a.items() if others == people and people]
        if not match:
            example = sorted(people - next((o for o in held_a.values() if o & people), set()) or people)
            who = f" (e.g. {example[0]})" if example else ""
            raise AuditkitError(f"{path}: cannot be compared with {first_path}: its group {g!r} holds other people "
                                f"than any group there{who}; compare audits whose --attr and --bins make the same "
                                "groups")
        rename[g] = match[0]
    changed = {g: h for g, h in rename.items() if g != h}
    # people one audit grouped and the other did not (another source, a template, a range only one of them covers)
    # are left out like any subject not scored by every model; say so where the groups also differ in name
    only = sorted((set(mine) ^ set(theirs)) - {(first.get("plan") or {}).get("template"),
                                                (run.get("plan") or {}).get("template")})
    if changed:
        extra = f"; {len(only)} subject(s) grouped by one audit only are left out" if only else ""
        print(f"note: {path}: groups {', '.join(f'{g} = {h}' for g, h in changed.items())} of {first_path} (the "
              f"same people where both audits grouped them{extra}); compared under the latter names", file=sys.stderr)
    return changed


def _renamed(results: pd.DataFrame, rename: dict[str, str]) -> pd.DataFrame:
    """The results with their groups under the first audit's names."""
    if not rename:
        return results
    return results.assign(**{c: results[c].where(results[c].isna(), results[c].astype(str).replace(rename))
                             for c in ("test_group", "train_group") if c in results})


def _per_subject(entry: ModelEntry, aus: list[str]) -> pd.DataFrame:
    """The model's score per test subject and repetition (mean over `aus`, each AU averaged over the repetition's
    models that tested them), with its audit as the run its trainings belong to (models of one audit share their
    draws) and whether the model is fixed (test-only: no training variance)."""
    rows = entry.results[entry.results["au"].isin(aus)]
    table = subject_metrics(rows, by_repetition=True)
    table = table[table["au"] == ALL_AUS]
    rates = rate_cells(rows)
    rates = rates[rates["au"] == ALL_AUS].drop(columns=["au", "normalizer"])
    table = table.merge(rates, on=["test_group", "subject", "repetition"], how="left")
    return table.assign(model=entry.label, run=str(entry.audit.resolve()), fixed=entry.kind == "test-only")[
        ["model", "test_group", "subject", "repetition", "run", "fixed", "score", "hit_rate", "false_alarm_rate"]]


def _missed_on(entry: ModelEntry, shared: set[str]) -> pd.DataFrame | None:
    """Per group, the frames the tool never served, counted on the shared subjects only."""
    if entry.missed is None:
        return None
    per, _tests = missed_by_group(entry.missed[entry.missed["subject"].astype(str).isin(shared)])
    return per.rename(columns={"group": "test_group"}).assign(model=entry.label)


def build_comparison(entries: list[ModelEntry], seed: int = 0) -> Comparison:
    """Restrict every model to the AUs and subjects all of them scored, then compute the comparison's tables."""
    au_sets = [set(e.results["au"]) for e in entries]
    aus = sorted(set.intersection(*au_sets))
    if not aus:
        raise AuditkitError(f"{entries[1].audit}: shares no scored AU with {entries[0].audit}; nothing to compare")
    table = pd.concat([_per_subject(e, aus).dropna(subset=["score"]) for e in entries], ignore_index=True)
    table = table.astype({"test_group": str, "subject": str})
    scored_by = table.groupby(["test_group", "subject"])["model"].nunique()
    shared = scored_by[scored_by == len(entries)]
    scored = table.groupby("model", sort=False)["subject"].nunique()
    counts = [{"model": e.label, "audit": str(e.audit), "kind": e.kind, "normalizer": e.normalizer,
               "subjects": int(scored.get(e.label, 0)), "shared_subjects": len(shared), "aus": len(s),
               "shared_aus": len(aus), "aus_left_out": sorted(s - set(aus))}
              for e, s in zip(entries, au_sets, strict=True)]
    per_group = shared.groupby(level="test_group").size()
    for g in sorted(table["test_group"].unique()):
        if per_group.get(g, 0) < 2:
            raise AuditkitError(f"group {g!r}: only {int(per_group.get(g, 0))} subject(s) scored by every model "
                                "(comparing models needs at least 2 per group)")
    keys = table.set_index(["test_group", "subject"]).index
    subjects = table[keys.isin(shared.index)].reset_index(drop=True)
    shared_ids = set(shared.index.get_level_values("subject"))
    missed = [m for e in entries if (m := _missed_on(e, shared_ids)) is not None]
    run = entries[0].run
    return Comparison(entries, subjects, aus, compare_models(subjects, seed), counts,
                      list((run.get("config") or {}).get("attr") or []), str(run.get("fingerprint")),
                      str(run.get("data")), seed, pd.concat(missed, ignore_index=True) if missed else pd.DataFrame())
