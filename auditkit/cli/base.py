"""The command line's shared parts: the Typer app, the consoles, progress, name lists, and `main`, which turns
user-facing errors into one line."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.text import Text

from auditkit import __version__
from auditkit.errors import AuditkitError

app = typer.Typer(
    name="auditkit",
    help="Fairness audits for facial action unit recognition (within- vs cross-group gaps, DeepFN normalization).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # help texts are plain text: "auditkit[cluster]" must show its brackets, not be read as a markup tag
    rich_markup_mode=None,
)
# markup off: subject ids, group values, paths and messages are user strings, and "[/]" or "[bold]" in one of them
# must print as written, not style (or crash) the output; styling is explicit, through _styled
console = Console(markup=False)
err_console = Console(stderr=True, markup=False)


def _styled(head: str, style: str, rest: str) -> Text:
    """`head` in `style`, then `rest` verbatim."""
    return Text.assemble((head, style), rest)


def _version(value: bool) -> None:
    if value:
        console.print(f"auditkit {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Fairness audits for facial action unit recognition."""


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("eta"), TimeRemainingColumn(), console=err_console, transient=False,
    )


def _names(values: list[str]) -> tuple[str, ...]:
    """Names from a repeated option whose values may also be comma lists (auditkit.api.split_names: read once)."""
    from auditkit.api import split_names

    return split_names(values)


def _attrs(attr: str) -> tuple[str, ...]:
    """--attr's comma-separated attributes (an intersection when several); empty is an error (as the API reads it)."""
    from auditkit.api import _attrs as attributes

    return attributes(attr)


PLAIN_PROGRESS_EVERY_S = 30.0  # without a terminal: one progress line per stage at most this often


def _duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m // 60}:{m % 60:02d}:{s:02d}" if m >= 60 else f"{m}:{s:02d}"


class _PlainProgress:
    """Progress as plain lines (done/total, elapsed, ETA) for logs, CI and nohup, where a live bar shows nothing."""

    def __init__(self, every: float = PLAIN_PROGRESS_EVERY_S) -> None:
        self.every = every
        self.stage: str | None = None
        self.stage_start = self.last = 0.0

    def __call__(self, what: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if what != self.stage:
            self.stage, self.stage_start, self.last = what, now, -float("inf")
        finished = bool(total) and done >= total
        if not finished and now - self.last < self.every:
            return
        self.last = now
        elapsed = now - self.stage_start
        line = f"{what}: {done}/{total if total else '?'}, {_duration(elapsed)} elapsed"
        if total and 0 < done < total:
            line += f", about {_duration(elapsed / done * (total - done))} left"
        err_console.print(line, markup=False, highlight=False)


@contextmanager
def _lazy_progress() -> Iterator[Callable[[str, int, int | None], None]]:
    """A progress callback (what, done, total): a live bar on a terminal, plain periodic lines otherwise.

    The bar appears with the first report, so an error raised before any work prints no empty bar.
    """
    if not err_console.is_terminal:
        yield _PlainProgress()
        return
    state: dict[str, Any] = {}

    def report(what: str, done: int, total: int | None) -> None:
        if "bar" not in state:
            state["bar"] = _progress()
            state["bar"].start()
            state["task"] = state["bar"].add_task(what, total=total)
        state["bar"].update(state["task"], description=what, completed=done, total=total)

    try:
        yield report
    finally:
        if "bar" in state:
            state["bar"].stop()


def _ensure_default_data(attrs: tuple[str, ...] = ()) -> Path:
    from auditkit.data.format import META_FILE
    from auditkit.data.synth.default import default_data_dir, ensure_default_dataset

    path = default_data_dir(attrs)
    if (path / META_FILE).exists():
        return path
    what = ("the person split's synthetic default (more frames per person)" if path.name == "synth-person"
            else "the synthetic default")
    err_console.print(f"no --data given: generating {what} into {path} (once)")
    with _lazy_progress() as report:
        return ensure_default_dataset(progress=lambda d, t: report("rendering subjects", d, t), attrs=attrs)


def _usage_line(exc: Exception) -> str:
    """A usage error in one line: the option, the value given (the framework's message leaves it out) and the help."""
    ctx = getattr(exc, "ctx", None)
    command = ctx.info_name if ctx is not None and ctx.parent is not None else ""
    more = f" (see `auditkit {command} --help`)" if command else " (see `auditkit --help`)"
    param = getattr(exc, "param", None)
    if isinstance(exc, typer.BadParameter) and param is not None and getattr(param, "opts", None):
        args = sys.argv[1:]
        given = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in param.opts), None)
        given = given if given is not None else next((a.split("=", 1)[1] for a in args
                                                      if a.split("=", 1)[0] in param.opts and "=" in a), None)
        kind = {"integer": "a whole number", "float": "a number"}.get(getattr(getattr(param, "type", None), "name", ""))
        kind = kind or ("a whole number" if "valid integer" in exc.message else None)
        if given is not None and kind:
            return f"{param.opts[-1]}: expected {kind}, got {given!r}{more}"
        if given is not None:
            return f"{param.opts[-1]}: invalid value {given!r}: {exc.message}{more}"
    return f"{exc.format_message()}{more}"


def main() -> None:
    """Console-script entry: run the app, turning user-facing errors into one line and a non-zero exit."""
    from typer.exceptions import TyperException

    try:
        code = app(standalone_mode=False)  # usage errors come here, to be said in one line with the value given
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Abort:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except TyperException as exc:  # the command line itself: an unknown option, a missing or unreadable value
        if not hasattr(exc, "format_message"):
            raise
        err_console.print(_styled("error:", "red", f" {_usage_line(exc)}"), highlight=False, soft_wrap=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except AuditkitError as exc:
        err_console.print(_styled("error:", "red", f" {exc}"), highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted", highlight=False)
        sys.exit(130)
    except OSError as exc:  # an unwritable --out, a full disk, a vanished file: the user's path, not a bug
        where = exc.filename if exc.filename is not None else "a file"
        why = exc.strerror or (exc.args[0] if exc.args else exc.__class__.__name__)
        err_console.print(_styled("error:", "red", f" {where}: {why}"), highlight=False, soft_wrap=True)
        sys.exit(2)
    except Exception as exc:  # a bug, not bad input: still one line unless the user asks for the traceback
        if os.environ.get("AUDITKIT_DEBUG"):
            raise
        err_console.print(
            _styled(
                "internal error:", "red", f" {exc.__class__.__name__}: {exc} (set AUDITKIT_DEBUG=1 for the traceback)"
            ),
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
