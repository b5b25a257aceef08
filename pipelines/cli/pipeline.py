"""`rankops pipeline`: compile, run locally, upload and submit the KFP pipelines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from pipelines.cli.context import SummaryOption, fail, settings_of

pipeline_app = typer.Typer(help="Kubeflow pipelines: compile, run locally, upload, submit.", no_args_is_help=True)
out = Console(soft_wrap=True)  # paths and commands stay on one line, copyable

ParamOpt = Annotated[
    list[str] | None, typer.Option("--param", "-p", help="Pipeline parameter NAME=VALUE (repeatable).")
]


def parse_params(items: list[str] | None) -> dict[str, Any]:
    """NAME=VALUE pairs; scalar values parsed as YAML (so 5 is an int, true a bool), the rest kept as text."""
    import yaml

    params: dict[str, Any] = {}
    for item in items or []:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise fail(f"--param {item!r}: expected NAME=VALUE")
        try:
            value = yaml.safe_load(raw) if raw.strip() else raw
        except yaml.YAMLError:
            value = raw
        # pipeline parameters are scalars: JSON objects/lists (e.g. params_json) stay strings
        params[name.strip()] = value if isinstance(value, (str, int, float, bool)) else raw
    return params


@pipeline_app.command("list")
def list_pipelines() -> None:
    """The pipelines available in this checkout and their compiled spec."""
    from pipelines.catalogue import compiled_path, pipeline_names

    for name in pipeline_names():
        spec = compiled_path(name)
        out.print(f"{name:<16} {spec if spec.exists() else '- (not compiled: rankops pipeline compile)'}",
                  soft_wrap=True)


@pipeline_app.command("describe")
def describe_cmd(
    name: Annotated[str, typer.Argument(help="Pipeline name (see `rankops pipeline list`).")],
) -> None:
    """Per task of the compiled spec: image, resources, GPU placement, secrets, retries, caching."""
    from pipelines.catalogue import compiled_path
    from pipelines.spec_summary import summarize_spec

    spec = compiled_path(name)
    if not spec.exists():
        raise fail(f"no compiled spec for {name!r} at {spec}; run `rankops pipeline compile`")
    typer.echo(json.dumps(summarize_spec(spec.read_text()), indent=2))


@pipeline_app.command("compile")
def compile_cmd(
    names: Annotated[list[str] | None, typer.Argument(help="Pipelines to compile (default: all).")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", help="Directory (default pipelines/compiled).")] = None,
    check: Annotated[bool, typer.Option("--check", help="Only check that committed specs are fresh.")] = False,
    summary: SummaryOption = None,
) -> None:
    """Compile pipelines to deterministic YAML specs (committed; CI fails when stale)."""
    from components.common.summary import write_summary
    from pipelines.catalogue import UnknownPipeline
    from pipelines.compile import REGENERATE, compile_all, stale_specs

    try:
        if check:
            stale = stale_specs(names or None, out_dir)
            for name, diff in stale.items():
                out.print(f"[red]{name}: stale[/red]\n{diff}", markup=True, highlight=False)
            write_summary(summary, {"stale": sorted(stale)})
            if stale:
                raise fail(f"{len(stale)} compiled spec(s) stale; regenerate with: {REGENERATE}")
            out.print("[green]compiled specs are up to date[/green]")
            return
        paths = compile_all(out_dir, names or None)
    except (UnknownPipeline, RuntimeError) as exc:
        raise fail(str(exc)) from None
    for path in paths:
        out.print(f"[green]compiled[/green] {path}")
    write_summary(summary, {"compiled": [str(p) for p in paths]})


@pipeline_app.command("run")
def run_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline name (see `rankops pipeline list`).")],
    local: Annotated[bool, typer.Option("--local", help="Run on this machine through kfp.local.")] = False,
    params: ParamOpt = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse outputs of identical steps.")] = False,
    summary: SummaryOption = None,
) -> None:
    """Run a pipeline locally (`--local`); for the cluster use `rankops pipeline submit`."""
    from components.common.summary import write_summary
    from pipelines.catalogue import UnknownPipeline
    from pipelines.local import run_local

    if not local:
        raise fail("only --local runs start here; for the cluster use `rankops pipeline submit NAME --host URL`")
    settings = settings_of(ctx)
    try:
        result = run_local(name, settings, parse_params(params), cache=cache)
    except UnknownPipeline as exc:
        raise fail(str(exc)) from None
    except (RuntimeError, TypeError) as exc:  # a failed step, or a parameter the pipeline does not take
        import re

        plain = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))  # kfp.local colours task names
        raise fail(f"pipeline {name} failed: {plain} (step logs above; outputs under "
                   f"{settings.home / 'kfp-local'})") from None
    write_summary(summary, result)
    print_where_to_look(result, settings)


def print_where_to_look(result: dict[str, Any], settings: Any) -> None:
    """The short human summary of a local run: what ran, where the outputs and reports are, what to do next."""
    out.print(f"[green]pipeline {result['pipeline']} finished[/green] in {result['seconds']:.1f} s "
              f"(env {settings.env}, {len(result['tasks'])} steps)")
    out.print(f"  step outputs:  {result['run_dir'] or result['pipeline_root']}")
    if result.get("log"):
        out.print(f"  full log:      {result['log']}")
    for key, value in result["outputs"].items():
        out.print(f"  {key}: {json.dumps(value, default=str)}")
    tasks = result["tasks"]
    out.print(f"  reports:       {settings.reports_dir}")
    for task, data in tasks.items():
        for art_name in ("report", "quality_report"):
            art = data["artifacts"].get(art_name)
            if art and art["uri"]:
                out.print(f"    {task:<22} {art['uri']}")
    if settings.tracking_uri.startswith("sqlite"):
        out.print(f"  MLflow UI:     mlflow ui --backend-store-uri {settings.tracking_uri}")
    version = tasks.get("register-op", {}).get("parameters", {}).get("Output")
    if version:
        out.print(f"  registered:    {settings.registry.model_name} version {version} (alias challenger)")
    compare = tasks.get("compare-op", {}).get("artifacts", {}).get("decision", {}).get("metadata", {})
    if compare:
        verdict = "promote" if compare.get("promote") else "keep the champion"
        out.print(f"  comparison:    {verdict} (delta {compare.get('delta'):+.4f}, p={compare.get('p_value'):.3g})")
        report = tasks["compare-op"]["artifacts"].get("report", {}).get("uri")
        if report:
            out.print(f"                 decision report: {report}")
    request = tasks.get("promotion-request-op", {}).get("parameters", {}).get("Output")
    if request:
        print_request_hint(request, settings)


def print_request_hint(request: str, settings: Any) -> None:
    """Where the promotion request waits: its pull request (forge mode) or the local approve command."""
    if settings.promotion.forge.kind == "local":
        cli = f"rankops --project {settings.project}" if settings.project else "rankops"
        out.print(f"  [bold]to approve:[/bold]    {cli} promote approve {request} --by NAME"
                  f"   (or reject: {cli} promote reject {request} --by NAME)")
        return
    from components.promotion.proposal import pull_request_url
    from components.promotion.state import PromotionError

    try:
        where = pull_request_url(settings, request)
    except PromotionError as exc:
        where = f"branch promote/{request} (looking up its pull request failed: {exc})"
    out.print(f"  [bold]pull request:[/bold]  {where}   (request {request}; the CODEOWNERS' merge approves it, "
              "then `rankops promote sync` moves the champion)")


def _image_tag(tag: str | None) -> str | None:
    """None (the committed specs' release tag) for an empty tag or an image built without a sha."""
    return None if not tag or tag == "unknown" else tag


def _target(ctx: typer.Context, host: str | None, namespace: str | None, image_tag: str | None) -> dict[str, Any]:
    """Where a submission goes and what it runs on: host, namespace, env, pipeline root, images."""
    from pipelines.submit import image_refs

    settings = settings_of(ctx)
    host = host or settings.kfp.host
    if not host:
        raise fail("no KFP host: pass --host URL or set kfp.host in the profile")
    try:
        image, gpu_image = image_refs(settings.kfp, _image_tag(image_tag))
    except ValueError as exc:
        raise fail(str(exc)) from None
    root = settings.kfp.pipeline_root
    return {"host": host, "namespace": namespace or settings.kfp.namespace, "env": settings.env,
            "pipeline_root": root if "://" in root else None, "image": image, "gpu_image": gpu_image,
            "trainjob": settings.trainjob.enabled}


def _connect(target: dict[str, Any]):
    """An authenticated KFP client; refuses a single-user KFP with what to do instead."""
    from pipelines.submit import SingleUserKfp, kfp_client, require_multi_user

    try:
        client = kfp_client(target["host"], target["namespace"])
        require_multi_user(client, target["host"], target["namespace"])
    except (SingleUserKfp, FileNotFoundError) as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # the KFP API answered with an error, or not at all
        raise fail(f"KFP at {target['host']}: {type(exc).__name__}: {_first_line(exc)}") from None
    return client


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else ""


ImageTagOpt = Annotated[
    str | None, typer.Option("--image-tag", envvar="RANKOPS_IMAGE_TAG",
                             help="Run on images built from this tag (e.g. the git sha) where the environment has no "
                                  "digest-pinned images (RANKOPS_KFP__IMAGE); staging and prod take digests only.")
]


@pipeline_app.command("submit")
def submit_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Pipeline name (see `rankops pipeline list`).")],
    host: Annotated[str | None, typer.Option("--host", help="KFP API URL (default: the profile's kfp.host).")] = None,
    experiment: Annotated[str, typer.Option("--experiment", help="KFP experiment.")] = "rankops",
    schedule: Annotated[
        str | None, typer.Option("--schedule", help="Cron (5 or 6 fields, UTC): create a recurring run.")
    ] = None,
    params: ParamOpt = None,
    image_tag: ImageTagOpt = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="KFP namespace (default: profile's).")] = None,
    service_account: Annotated[str, typer.Option("--service-account", help="Pod service account.")] =
        "rankops-pipeline-runner",
    summary: SummaryOption = None,
) -> None:
    """Upload the spec prepared for this environment as a version named by git sha, then start a run."""
    from components.common.gitinfo import git_info
    from components.common.summary import write_summary
    from pipelines.catalogue import all_pipelines, compiled_path
    from pipelines.submit import submit, version_name

    target = _target(ctx, host, namespace, image_tag)
    run_params = {"env": target["env"], **parse_params(params)}
    spec = compiled_path(name)
    if name not in all_pipelines() or not spec.exists():
        raise fail(f"no compiled spec for {name!r} at {spec}; run `rankops pipeline compile`")
    git = git_info()
    sha = None if git.sha == "unknown" else git.sha
    client = _connect(target)
    try:
        result = submit(client, name, spec, version=version_name(name, sha, git.dirty, target["image"], target["trainjob"]),
                        namespace=target["namespace"], experiment=experiment, params=run_params,
                        env=target["env"], image=target["image"], gpu_image=target["gpu_image"],
                        pipeline_root=target["pipeline_root"], schedule=schedule, service_account=service_account,
                        trainjob=target["trainjob"])
    except ValueError as exc:
        raise fail(str(exc)) from None
    except Exception as exc:  # the KFP API answered with an error: one line, no traceback
        raise fail(f"KFP at {target['host']}: {type(exc).__name__}: {_first_line(exc)}") from None
    write_summary(summary, {**result.to_dict(), "host": target["host"]})
    what = f"recurring run {result.recurring_run_id} ({result.schedule})" if schedule else f"run {result.run_id}"
    out.print(f"[green]submitted[/green] {name} version {result.version_name} -> {what} in experiment {experiment}")


@pipeline_app.command("upload")
def upload_cmd(
    ctx: typer.Context,
    names: Annotated[list[str] | None, typer.Argument(help="Pipelines to upload.")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Upload every compiled pipeline.")] = False,
    host: Annotated[str | None, typer.Option("--host", help="KFP API URL (default: the profile's kfp.host).")] = None,
    image_tag: ImageTagOpt = None,
    namespace: Annotated[str | None, typer.Option("--namespace", help="KFP namespace (default: profile's).")] = None,
    summary: SummaryOption = None,
) -> None:
    """Register compiled pipelines with KFP, prepared for this environment, as versions named by git sha (no run)."""
    import tempfile

    from components.common.gitinfo import git_info
    from components.common.summary import write_summary
    from pipelines.catalogue import all_pipelines, compiled_path
    from pipelines.submit import prepared_package, upload_version, version_name

    target = _target(ctx, host, namespace, image_tag)
    chosen = [n for n in all_pipelines() if compiled_path(n).exists()] if all_ else list(names or [])
    if not chosen:
        raise fail("nothing to upload: name pipelines or pass --all")
    git = git_info()
    sha = None if git.sha == "unknown" else git.sha
    client = _connect(target)
    uploaded = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            spec = compiled_path(name)
            if not spec.exists():
                raise fail(f"no compiled spec for {name!r} at {spec}; run `rankops pipeline compile`")
            version = version_name(name, sha, git.dirty, target["image"], target["trainjob"])
            package = prepared_package(spec, Path(tmp), env=target["env"], pipeline_root=target["pipeline_root"],
                                       image=target["image"], gpu_image=target["gpu_image"],
                                       trainjob=target["trainjob"])
            try:
                pid, vid = upload_version(client, name, package, version, namespace=target["namespace"],
                                          description=f"rankops {name} pipeline ({target['env']})")
            except Exception as exc:  # the KFP API answered with an error
                raise fail(f"KFP at {target['host']}: uploading {name}: {type(exc).__name__}: {exc}") from None
            uploaded.append({"pipeline": name, "pipeline_id": pid, "version_id": vid, "version_name": version,
                             "env": target["env"], "image": target["image"], "gpu_image": target["gpu_image"]})
            out.print(f"[green]uploaded[/green] {name} version {version} (env {target['env']}, {target['image']})")
    write_summary(summary, {"host": target["host"], "uploaded": uploaded})


def register(app: typer.Typer) -> None:
    """Add this stage's commands to the root app."""
    app.add_typer(pipeline_app, name="pipeline")
