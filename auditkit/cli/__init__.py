"""The `auditkit` command line: the only place that parses user input.

One module per family of commands, each calling a package function a Python user can call too: `data` (synth,
ingest, merge, inspect, schema), `audit` (gap, plan, report), `normalize` (describe, normalize), `models`
(audit-predictions, audit-model, compare), `info` (plugins); `base` holds the Typer app, the consoles, progress and
`main`, `options` the options several commands share, `printing` the terminal tables.
"""

# importing registers the commands; this order is `auditkit --help`'s
from auditkit.cli import data, audit, normalize, models, info  # noqa: F401, I001
from auditkit.cli.base import _ensure_default_data, _names, app, main
from auditkit.cli.printing import print_disparities

__all__ = ["_ensure_default_data", "_names", "app", "main", "print_disparities"]
