"""`rankops containers`: run the pipeline and the ranker as the cluster does, on this machine."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipelines.cli.context import fail, settings_of

containers_app = typer.Typer(help="Pipelines and ranker in the project image against the dev profile's services "
                                  "(podman; `make images` first).", no_args_is_help=True)
out = Console(soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.add_typer(containers_app, name="containers")


@containers_app.command("run")
def run_cmd(
    ctx: typer.Context,
    image: Annotated[str | None, typer.Option("--image", help="Image to run (default: the tag `make images` "
                                                              "builds, the compiled specs' image).")] = None,
    params: Annotated[list[str] | None, typer.Option("--param", "-p", help="Pipeline parameter NAME=VALUE.")] = None,
    ranker: Annotated[bool, typer.Option("--ranker/--no-ranker", help="Then start the ranker, approve the "
                                                                      "promotion request and check it serves it.")]
        = True,
    summary: Annotated[Path | None, typer.Option("--summary", help="Write the JSON summary here too.")] = None,
) -> None:
    """The end_to_end pipeline with every step in the image (uid 10001, read-only root), then the ranker."""
    from components.common.image import IMAGE
    from components.common.summary import write_summary
    from pipelines.cli.pipeline import parse_params
    from pipelines.containers.engine import EngineError
    from pipelines.containers.ranker import RankerCheckFailed
    from pipelines.containers.run import StepFailed, run_in_containers
    from pipelines.containers.services import ServiceError
    from pipelines.containers.steps import StepSetupError

    settings = settings_of(ctx)
    try:
        result = run_in_containers(settings.home, image or IMAGE, params=parse_params(params), ranker=ranker,
                                   echo=lambda text: out.print(text, markup=False, highlight=False))
    except (EngineError, ServiceError, StepSetupError) as exc:
        raise fail(str(exc)) from None
    except StepFailed as exc:
        typer.echo(f"last {len(exc.log_tail)} lines of the log of {exc.step}:", err=True)
        typer.echo("\n".join(f"    {line}" for line in exc.log_tail), err=True)
        raise fail(f"{exc} (outputs kept under {settings.home / 'containers'})") from None
    except RankerCheckFailed as exc:
        raise fail(f"{exc} (outputs kept under {settings.home / 'containers'})") from None
    except KeyboardInterrupt:
        raise fail("interrupted: services and containers stopped", code=130) from None
    write_summary(summary, result)
    print_result(result)


def print_result(result: dict) -> None:
    """How a containerised run ended, in the shape `make run` ends."""
    steps = result["steps"]
    out.print(f"[green]pipeline end_to_end finished in containers[/green] in {result['pipeline_seconds']:.1f} s "
              f"(env dev, {len(steps)} steps, image {result['image_id'][7:19]}; total {result['seconds']:.1f} s)")
    for step in steps:
        out.print(f"  {step['name']:<22} uid {step['uid']}  read-only root {step['read_only_root']}  "
                  f"{step['seconds']:6.1f} s")
    out.print(f"  step outputs:  {result['run_dir']}")
    out.print(f"  lakehouse:     {result['lakehouse']}")
    decision = result["tasks"].get("compare-op", {}).get("artifacts", {}).get("decision", {}).get("metadata", {})
    if result.get("version"):
        out.print(f"  registered:    rankops-ranker version {result['version']} (alias challenger)")
    if decision:
        out.print(f"  comparison:    {result['verdict']} (delta {decision.get('delta'):+.4f}, "
                  f"p={decision.get('p_value'):.3g})")
    if result.get("request_id"):
        out.print(f"  request:       {result['request_id']}")
    ranker = result.get("ranker") or {}
    if "rerank" in ranker:
        out.print(f"  ranker:        not ready before the approval ({ranker['before_approval']['error']}); after "
                  f"approval and reload serves version {ranker['rerank']['model_version']}")
    elif ranker:
        out.print(f"  ranker:        {ranker.get('skipped', 'not checked')}")
    out.print(f"  summary:       {result['state_dir']}/summary.json")


@containers_app.command("check-gpu")
def check_gpu_cmd(
    torch_index: Annotated[str, typer.Option("--torch-index", help="Index of the CUDA torch wheel (PyPI's Linux "
                                                                   "wheel is a CUDA build).")]
        = "https://pypi.org/simple",
    summary: Annotated[Path | None, typer.Option("--summary", help="Write the JSON summary here.")] = None,
) -> None:
    """Dry-run resolve of the GPU image's dependencies with the CUDA build of torch (no download)."""
    from components.common.summary import write_summary
    from pipelines.containers.engine import REPO_ROOT
    from pipelines.containers.gpu import GpuResolveError, resolve_gpu_dependencies

    try:
        result = resolve_gpu_dependencies(REPO_ROOT, torch_index)
    except GpuResolveError as exc:
        raise fail(str(exc)) from None
    write_summary(summary, result)
    out.print(f"[green]GPU image dependencies resolve[/green]: torch {result['torch']} with "
              f"{len(result['cuda_libraries'])} CUDA libraries ({result['cuda_libraries'][0]}, ...), "
              f"{result['packages']} packages; wheels for Python {result['python']}: {result['wheels_for_python']}, "
              f"source-only (pure Python): {', '.join(result['source_only'])}")
    typer.echo(json.dumps({"torch": result["torch"], "torch_index": result["torch_index"]}))
