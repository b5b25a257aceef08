"""`rankops new project NAME` and `rankops project list`: other teams' projects on the platform."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli.context import console, fail

new_app = typer.Typer(help="Start something new on the platform from a template.", no_args_is_help=True)
project_app = typer.Typer(help="Projects of other teams on the platform (select one with --project).",
                          no_args_is_help=True)


@new_app.command("project")
def new_project_cmd(
    name: Annotated[str, typer.Argument(help="Project name: lower-case letters, digits and '_'.")],
    out_dir: Annotated[Path, typer.Option("--dir", help="Folder the project folder is written into.")] = Path("projects"),
    summary: Annotated[Path | None, typer.Option("--summary", help="Write what was written as JSON.")] = None,
) -> None:
    """Write DIR/NAME from the project template: a runnable click-through-rate project to edit."""
    from components.common.summary import write_summary
    from pipelines.scaffold import ScaffoldError, new_project

    try:
        result = new_project(name, out_dir)
    except ScaffoldError as exc:
        raise fail(str(exc)) from None
    write_summary(summary, result)
    console.print(f"[green]project {name}[/green] written to {result['path']} ({len(result['files'])} files); next:")
    for step in result["next"]:
        console.print(f"  {step}")


@project_app.command("list")
def list_projects() -> None:
    """Installed projects (entry-point group rankops.projects); `*` = the one selected now."""
    import os

    from components.common import plugins
    from components.common.projects import ENV_VAR, load_project

    active = os.environ.get(ENV_VAR)
    for name in plugins.plugin_names(plugins.PROJECTS):
        project = load_project(name)
        typer.echo(f"{'*' if name == active else ' '} {name:<16} {project.root}  {project.description}")


def register(app: typer.Typer) -> None:
    """Add `new` and `project` to the root app."""
    app.add_typer(new_app, name="new")
    app.add_typer(project_app, name="project")
