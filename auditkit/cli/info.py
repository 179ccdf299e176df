"""`auditkit plugins`: what is installed."""

from __future__ import annotations

from rich.table import Table

from auditkit.cli.base import app, console


@app.command()
def plugins() -> None:
    """List installed normalizers, classifiers and dataset sources (entry points)."""
    from auditkit.plugins import available_plugins

    table = Table(title="Installed plugins")
    for col in ("kind", "name", "provided by"):
        table.add_column(col)
    for kind, plugins_of_kind in available_plugins().items():
        for name, origin in plugins_of_kind.items():
            table.add_row(kind, name, origin)
    console.print(table)
