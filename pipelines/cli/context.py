"""Global CLI options and the settings every command reads."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from components.common.config import ConfigError, Settings, load_settings

console = Console(stderr=True)
T = TypeVar("T")


def configure(
    ctx: typer.Context,
    env: Annotated[
        str | None, typer.Option("--env", envvar="RANKOPS_ENV", help="Profile: local, dev, staging or prod.")
    ] = None,
    project: Annotated[
        str | None, typer.Option("--project", envvar="RANKOPS_PROJECT",
                                 help="Another team's project on the platform (see `rankops project list`).")
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
) -> None:
    """Load the profile once; a bad configuration stops here with a message naming the culprit."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if project:  # pipeline steps and subprocesses started from here inherit it
        os.environ["RANKOPS_PROJECT"] = project
    try:
        ctx.obj = load_settings(env)
    except ConfigError as exc:
        console.print(f"[red]configuration error:[/red] {exc}")
        raise typer.Exit(2) from None


def settings_of(ctx: typer.Context) -> Settings:
    """The settings loaded by the root callback (also when a test invokes a command directly)."""
    root = ctx.find_root()
    if not isinstance(root.obj, Settings):
        root.obj = load_settings()
    return root.obj


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print a one-line error and return the Exit to raise (no traceback for expected failures).

    Credentials inside URLs (a tracking URI's or git URL's user info) are masked.
    """
    import re

    masked = re.sub(r"://[^/@\s]+@", "://***@", message)
    console.print(f"[red]error:[/red] {masked}")
    return typer.Exit(code)


SummaryOption = Annotated[
    Path | None, typer.Option("--summary", dir_okay=False, help="Write what the command produced as JSON here.")
]


def run_action(action: Callable[[], T], *, errors: tuple[type[BaseException], ...] = (), summary: Path | None = None,
               status: str | None = None, record: Callable[[T], dict[str, Any]] | None = None) -> T:
    """A command's work in one call: progress while it runs, an expected error ends it with one line,
    and what it produced goes to --summary (`record` picks that from the result when it is not a dict)."""
    from components.common.summary import write_summary

    try:
        if status:
            with console.status(status):
                result = action()
        else:
            result = action()
    except errors as exc:
        raise fail(str(exc)) from None
    write_summary(summary, record(result) if record else result)  # type: ignore[arg-type]
    return result
