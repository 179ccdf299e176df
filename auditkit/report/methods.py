"""The report's methods and limitations, written from the run itself: what was audited, on which data and groups,
how it was scored and tested, and what its numbers cannot show. A reader of report.html or summary.md alone needs it."""

from __future__ import annotations

from pathlib import Path

from auditkit.data.format import TRUTH_DIR
from auditkit.protocol.audit_dir import RUN_FILE
from auditkit.report.power import MIN_TESTED_REPETITIONS
from auditkit.report.tables import AuditTables, is_test_only
from auditkit.stats import ALPHA
from auditkit.stats.disparities import MIN_SUBJECTS
from auditkit.stats.metrics import F1_RULE_TEXT, THRESHOLD, recorded_f1_rule

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV", 5: "V", 6: "VI"}
# what each attribute the paper uses means; any other subjects.parquet column is described by its name
ATTRIBUTES = {
    "fitzpatrick": "Fitzpatrick skin phototype (I–VI, a dermatological scale of how skin reacts to sun)",
    "gender": "gender as recorded in the dataset's subjects.parquet",
    "dataset": "the source dataset each subject was recorded in (capture setup, population and coding differ)",
    "person": "each person as their own group: person-dependent (trained and tested on the same person) against "
              "person-independent models",
}
PAPER_BINS = "lighter = types I–II and darker = types V–VI (III–IV left out to amplify differences, as in the paper)"


def _range_text(lo: float, hi: float, roman: bool) -> str:
    name = (lambda v: ROMAN.get(int(v), f"{v:g}")) if roman else (lambda v: f"{v:g}")
    return name(lo) if lo == hi else f"{name(lo)}–{name(hi)}"


def group_definition(config: dict) -> str:
    """What the groups are: the attribute(s) and, for binned ones, each bin's range."""
    from auditkit.protocol.groups import parse_bins

    parts = []
    for attr in config.get("attr") or []:
        meaning = ATTRIBUTES.get(attr, f"the subjects.parquet column '{attr}'")
        if config.get("bins"):
            try:
                bins = parse_bins(config["bins"])
            except Exception:  # an old run.json with a bins string this version reads differently: show it as given
                bins = None
            if bins:
                ranges = ", ".join(f"{name} = {_range_text(lo, hi, attr == 'fitzpatrick')}" for lo, hi, name in bins)
                meaning += f"; groups {ranges} (--bins)"
        elif attr == "fitzpatrick":
            meaning += f"; {PAPER_BINS}"
        parts.append(f"{attr}: {meaning}")
    return "; ".join(parts) if parts else "not recorded"


def is_synthetic(run: dict) -> bool:
    """True when the audited dataset carries synthetic ground truth (rendered by auditkit)."""
    data = run.get("data")
    return bool(data) and (Path(data) / TRUTH_DIR).is_dir()


def _tested(tables: AuditTables) -> dict[str, int]:
    """Per test group: the subjects actually scored (a predictions audit scores only those the tool ran on)."""
    cond = tables.conditions
    return {str(g): int(n) for g, n in cond.groupby("test_group", observed=True)["subjects"].max().items()}


def _sizes(run: dict, tables: AuditTables) -> str:
    pools = (run.get("plan") or {}).get("pools") or {}
    tested = _tested(tables)
    parts = []
    for name, members in pools.items():
        n = tested.get(str(name))
        scored = "" if n is None or n == len(members) or not is_test_only(tables) else f", {n} scored"
        parts.append(f"{name} ({len(members)} subjects{scored})")
    return ", ".join(parts)


def _audited(run: dict, tables: AuditTables) -> str:
    config = run.get("config", {})
    if is_test_only(tables):
        if run.get("predictions"):
            return (f"Saved predictions of a tool ({Path(run['predictions']).name}), scored once on every subject of "
                    "every group; nothing is trained, so there is no within/cross gap: the audit compares groups of "
                    "test subjects.")
        normalizers = ", ".join(n for n in config.get("normalizers", []) if n != "none") or "(none)"
        return (
            f"A pretrained model ({config.get('classifier')}), run once on every subject of every group, without "
            f"and with the normalizers {normalizers} "
            "in front of it; nothing is trained, so there is no within/cross gap: the audit compares groups of "
            "test subjects."
        )
    epochs, patience = config.get("epochs"), config.get("patience")
    stop = f", early stopping after {patience} epochs without validation gain" if patience else ", no early stopping"
    return (f"Within- against cross-group generalization of the {config.get('classifier')} AU classifier (the DeepFN "
            f"paper's protocol): each repetition draws {config.get('n_train')} training and {config.get('n_val')} "
            "validation subjects from one group, tests on that group's remaining subjects (within) and on the other "
            f"groups' subjects (cross). {config.get('repeats')} repetitions, preset {config.get('preset')} ({epochs} "
            f"epochs{stop}); normalizers: {', '.join(config.get('normalizers', []))}.")


def _provenance(run: dict) -> str | None:
    """Predictions audits: how the tool's files were read and matched."""
    counts = run.get("counts")
    if not counts:
        return None
    from auditkit.classifiers.prediction_files import describe_offset

    return (f"{counts.get('files')} file(s), format {', '.join(counts.get('formats', []))}; frame offset "
            f"{describe_offset(counts)}; {counts.get('matched_frames')} frames matched, "
            f"{counts.get('dataset_frames_without_prediction')} dataset frames without a prediction, "
            f"{counts.get('predictions_without_dataset_frame')} predictions without a dataset frame, "
            f"{counts.get('dropped_no_face')} dropped (no face or low confidence), "
            f"{counts.get('frames_with_several_faces', 0)} frame(s) with several faces (the most confident kept).")


def methods(run: dict, tables: AuditTables) -> list[dict]:
    """(topic, text) items of the methods-and-limitations section, from run.json and the audit's tables."""
    config = run.get("config", {})
    synthetic = is_synthetic(run)
    sources = ", ".join(run.get("sources") or []) or "not recorded"
    items = [{"topic": "What was audited", "text": _audited(run, tables)}]
    provenance = _provenance(run)
    if provenance:
        items.append({"topic": "Predictions read", "text": provenance})
    data = (f"{run.get('data')} (fingerprint {run.get('fingerprint')}); source datasets scored: {sources}.")
    data += (" Synthetic: faces rendered by auditkit with a known ground truth, so the numbers show how the method "
             "behaves, not how any real model treats real people." if synthetic else "")
    items.append({"topic": "Data", "text": data})
    template = (run.get("plan") or {}).get("template")
    groups = f"{group_definition(config)}. Groups: {_sizes(run, tables)}."
    if template:
        groups += f" The normalizers' template subject ({template}) is in no group."
    items.append({"topic": "Groups", "text": groups})
    rule = recorded_f1_rule(config, RUN_FILE)
    items.append({"topic": "Scores", "text": (
        f"Per test subject and AU: F1 and accuracy at threshold {THRESHOLD} on the frames coded for that AU; their "
        "mean is the score (the paper's). AUs are averaged per subject, and every subject counts once (averaged over "
        "the repetitions that tested them, each repetition's models averaged first). F1 of a subject who neither "
        "shows nor is predicted to show an AU: "
        f"{F1_RULE_TEXT[rule]} (rule '{rule}', --f1-no-positives).")})
    tests = ("Between groups: the signed difference of two groups' mean subject scores with a 95% interval and p "
             "from the subject x training test, on balanced cells in a gap audit (the repetitions where one model of "
             "every group tested the subject, so no group is scored mostly by models trained on another). Hit and "
             "false-alarm rates per group (equalized odds) and their differences are tested the same way; how a "
             "normalizer changes a difference is tested on the same subjects and repetitions. Because F1 and accuracy "
             "depend on how often an AU occurs, the differences are also given prevalence-calibrated (Siblini et "
             "al., 2020: each subject's hit and false-alarm rates "
             "per AU rescored at the AU's pooled base rate, which assumes those rates do not depend on the base rate; "
             "subject-AU pairs with no positives or no negatives left out), a secondary view: the headline is the "
             "difference as scored. ")
    if is_test_only(tables):
        tests = ("What each interval covers: the test people (a fixed model has no training variance), so every test "
                 "here is Welch's t-test on subjects. ") + tests
    else:
        tests = ("What each interval covers: the test people and the trainings. Each score belongs to a (subject, "
                 "repetition) pair, and every subject of a group is scored by the same few trainings, so the 95% "
                 "intervals and p-values add a jackknife over repetitions to one over subjects (subtracting their "
                 "shared subject x training part once; Welch-Satterthwaite degrees of freedom): a re-run with another "
                 "seed should land inside them. Gap (within − cross, on the same tested subjects and repetitions), its "
                 "change under each normalizer, and each between-group difference are tested this way. How a "
                 "normalizer changes a between-group difference takes its variance from the repetitions instead (each "
                 "an independent replicate of the whole contrast: both arms' trainings and its own test subjects) plus "
                 "a people's part, from how each subject's change carries over between their repetitions (a "
                 "person's lasting response to the normalizer). The paper's "
                 "Student two-sample t-test on subject means is printed beside the gap for comparison (it leaves "
                 "training variation out), as is a paired "
                 f"t-test on repetition means (not run under {MIN_TESTED_REPETITIONS} repetitions). Findings state a "
                 "gap, difference or change only where its own test supports it. ") + tests
    tests += f"p-values are Holm-corrected within each family of tests; significance at {ALPHA:g} after correction."
    items.append({"topic": "Tests", "text": tests})
    limits = ["A gap or a difference between groups measures performance, not its cause: the groups can differ in "
              "more than the attribute (how expressive the people are, how often each AU occurs, capture conditions)."]
    sizes = list(_tested(tables).values()) if is_test_only(tables) else \
        [len(m) for m in ((run.get("plan") or {}).get("pools") or {}).values()]
    if sizes:
        held = "Tested groups hold" if is_test_only(tables) else "Groups hold"
        limits.append(
            f"{held} {min(sizes)} to {max(sizes)} subjects: a difference that is not significant is not "
            "evidence of no difference, and the intervals show the differences the data cannot rule out"
            + (
                f"; below {MIN_SUBJECTS} subjects a group's values are unreliable."
                if min(sizes) < MIN_SUBJECTS
                else "."
            )
        )
    if not is_test_only(tables):
        limits.append("A per-group gap compares models trained on different pools of people, and which people form a "
                      "pool is drawn once per audit: its interval is conditional on that split (on random groups it "
                      "rejects somewhat more often than 5 %; benchmarks/README.md, bench_calibration.py). The overall "
                      "gap and the between-group differences are not affected: every pool's models weigh alike "
                      "there.")
    if synthetic:
        limits.append("Synthetic data: the attribute's effect on the faces is whatever the renderer gives it; a real "
                      "audit needs a real, consented dataset.")
    limits.append("One model (or one architecture) is audited; others may treat the same groups differently. Group "
                  "labels come from the dataset's metadata, and binned attributes leave the middle of the scale out.")
    items.append({"topic": "Limitations", "text": " ".join(limits)})
    return items
