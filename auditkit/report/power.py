"""How strong an audit's evidence can be: runs below the default protocol are said to be so beside their findings."""

from __future__ import annotations

from dataclasses import dataclass

from auditkit.report.tables import AuditTables, is_test_only
from auditkit.stats.disparities import ALL_AUS, MIN_SUBJECTS

DEFAULT_REPETITIONS = 5  # below this many repetitions a trained audit's estimates are flagged as noisy
MIN_TESTED_REPETITIONS = 3  # below this many, no test of a trained audit is presented as a finding


@dataclass(frozen=True)
class Power:
    """What limits an audit's evidence: its preset, its repetitions (trained audits) and its small test groups."""

    preset: str | None
    repetitions: int | None  # None for test-only audits (every subject is tested once)
    small_groups: dict[str, int]  # test group -> test subjects, for groups under MIN_SUBJECTS

    @property
    def testable(self) -> bool:
        """False when too few repetitions ran for any test to count as a finding."""
        return self.repetitions is None or self.repetitions >= MIN_TESTED_REPETITIONS

    @property
    def below_default(self) -> bool:
        """True for a smoke run, fewer than 5 repetitions or a test group under 5 subjects."""
        return (self.preset == "smoke" or bool(self.small_groups)
                or (self.repetitions is not None and self.repetitions < DEFAULT_REPETITIONS))


def power_of(tables: AuditTables, run: dict) -> Power:
    """The audit's power limits, from its tables (repetitions, group sizes) and run.json (preset)."""
    cond = tables.conditions
    reps = None if is_test_only(tables) or cond.empty else int(cond["repetitions"].min())
    groups = tables.disparity_groups
    groups = groups[groups["au"] == ALL_AUS]
    if len(groups):
        sizes = groups.groupby("test_group", observed=True)["subjects"].min()
    elif len(cond):
        sizes = cond.groupby("test_group", observed=True)["subjects"].min()
    else:
        sizes = {}
    small = {str(g): int(n) for g, n in dict(sizes).items() if n < MIN_SUBJECTS}
    return Power(run.get("config", {}).get("preset"), reps, small)


def power_sentences(power: Power) -> list[str]:
    """The caveats that belong beside the findings of an underpowered run (empty for a run at the default protocol)."""
    lines = []
    if power.preset == "smoke":
        lines.append("Caution: this is a smoke run (few epochs and repetitions), made to try the pipeline; its numbers "
                     "are not evidence about the model.")
    if power.repetitions is not None and power.repetitions < MIN_TESTED_REPETITIONS:
        lines.append(f"Caution: only {power.repetitions} repetition{'s' if power.repetitions != 1 else ''} ran, too "
                     f"few for a test (at least {MIN_TESTED_REPETITIONS}); the findings below give estimates only, and "
                     "the test tables are for inspection, not conclusions.")
    elif power.repetitions is not None and power.repetitions < DEFAULT_REPETITIONS:
        lines.append(f"Caution: only {power.repetitions} repetitions ran (the default protocol runs 10, the paper "
                     "20), so the estimates below are noisy and the tests have little power.")
    if power.small_groups:
        listed = ", ".join(f"{g} ({n})" for g, n in power.small_groups.items())
        lines.append(f"Caution: fewer than {MIN_SUBJECTS} test subjects in {listed}; values and tests involving "
                     f"{'this group' if len(power.small_groups) == 1 else 'these groups'} have little power.")
    return lines
