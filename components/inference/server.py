"""The online ranker: FastAPI over the packaged model and the online feature store.

`create_app` takes its model holder and feature source as arguments, so tests and benchmarks
run the same app with a registry in a temp dir; `run_server` wires the profile's real ones.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
import time
import uuid
from collections.abc import MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from components.inference.experiments import ExperimentState, Routed, route
from components.inference.features import FeatureSource, unknown_ids
from components.inference.impressions import ImpressionLog, utc_now
from components.inference.schema import BadRequest, RerankRequest, RerankResponse, parse_rerank
from components.inference.state import ModelHolder

if TYPE_CHECKING:
    from components.common.config import Settings
    from components.inference.model import Ranker
    from components.inference.settings import ExperimentSettings, ServingSettings

log = logging.getLogger(__name__)


class Unavailable(Exception):
    """A dependency (feature store) failed; the request itself was fine."""


class Metrics:
    """Prometheus series of one app (its own registry, so several apps can live in one process)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.requests = Counter("rankops_requests", "HTTP requests", ["endpoint", "status"], registry=self.registry)
        self.latency = Histogram("rankops_request_latency_seconds", "Request latency", ["endpoint"],
                                 buckets=(.002, .005, .01, .02, .03, .05, .075, .1, .25, .5, 1, 2.5),
                                 registry=self.registry)
        self.errors = Counter("rankops_errors", "Failed requests by kind", ["kind"], registry=self.registry)
        self.candidates = Histogram("rankops_candidates_per_request", "Candidates per rerank",
                                    buckets=(1, 5, 10, 20, 50, 100, 200, 500), registry=self.registry)
        self.model = Gauge("rankops_model_info", "Served model (1 = current)", ["name", "version"],
                           registry=self.registry)
        self.reloads = Counter("rankops_model_reloads", "Model swaps", registry=self.registry)
        self.arms = Counter("rankops_experiment_requests", "Responses by experiment and arm",
                            ["experiment", "mode", "arm"], registry=self.registry)
        self.fallbacks = Counter("rankops_experiment_fallbacks", "Challenger failures or over-budget answers "
                                 "replaced by the champion", ["experiment", "reason"], registry=self.registry)
        self._served: tuple[str, str] | None = None

    def set_model(self, ranker: Ranker) -> None:
        """The served version's series goes to 1 and the one it replaces to 0 (kept, not removed:
        Gauge.remove is unsupported in prometheus_client's multiprocess mode, which importing Feast
        switches on for the whole process)."""
        labels = (ranker.name or "", ranker.version or "")
        if self._served and self._served != labels:
            self.model.labels(*self._served).set(0)
        self.model.labels(*labels).set(1)
        self._served = labels
        self.reloads.inc()


def rank(ranker: Ranker, features: FeatureSource, req: RerankRequest, *, reject_unknown: bool) -> RerankResponse:
    """Score the candidates with one batched feature lookup; best first, ties by input order."""
    frame = lookup_checked(features, req, reject_unknown=reject_unknown)
    return ranked_response(ranker, req, ranker.predict(frame))


def ranked_response(ranker: Ranker, req: RerankRequest, scores) -> RerankResponse:
    """The candidates best first, ties by input order."""
    import numpy as np

    order = np.argsort(-scores, kind="stable")
    results = [{"video_id": req.candidates[i], "score": float(scores[i]), "rank": r + 1}
               for r, i in enumerate(order)]
    return RerankResponse(query=req.query, model_name=ranker.name, model_version=ranker.version,
                          results=results)


def lookup_checked(features: FeatureSource, req: RerankRequest, *, reject_unknown: bool):
    """The candidates' feature frame; 503 when the store fails, 404 for unknown ids."""
    try:
        frame = features.lookup(req.query, req.candidates)
    except Exception as exc:  # the store, not the request, failed: 503 so clients retry elsewhere
        raise Unavailable(f"feature store unavailable: {exc}") from exc
    if reject_unknown:
        missing = unknown_ids(frame)
        if missing:
            raise BadRequest(404, f"{len(missing)} candidate id(s) unknown to the feature store",
                             {"unknown": missing[:50]})
    return frame


def impression_of(req: RerankRequest, routed: Routed, *, request_id: str, session_id: str, champion: Ranker,
                  exp: ExperimentSettings | None, latency_ms: float) -> dict:
    """The impression line of one response (fields: `impressions.IMPRESSION_FIELDS`, in that order). `exp` is
    the experiment the request was routed under, not the live one: the file may change while it is scored."""
    return {"request_id": request_id, "ts": utc_now(), "session_id": session_id, "query_id": req.query_id,
            "query": req.query, "experiment": exp.name if exp else None, "mode": routed.mode, "arm": routed.arm,
            "champion_version": champion.version or "", "challenger_version": exp.challenger if exp else None,
            "video_ids": routed.video_ids, "teams": routed.teams, "latency_ms": round(latency_ms, 3),
            "fallback": routed.fallback, "fallback_reason": routed.fallback_reason}


def request_id_of(header: str | None) -> str:
    """The gateway's X-Request-Id when it is a plain token (so traces and clicks share it), else a new uuid."""
    if header and len(header) <= 64 and all(c.isalnum() or c in "._:-" for c in header):
        return header
    return uuid.uuid4().hex


async def read_body(request: Request, limit: int) -> bytes:
    """The body, refused with 413 as soon as it (or its declared length) passes `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest(400, "invalid Content-Length header")
        if int(declared) > limit:
            raise BadRequest(413, f"body of {declared} bytes is over the limit of {limit}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(413, f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def warm_up(ranker: Ranker, features: FeatureSource) -> None:
    """One prediction before a model goes live, so its first real request pays no lazy init."""
    frame = features.lookup("warm up", ["0000000000000000"])
    ranker.predict(frame)


def create_app(settings: Settings, holder: ModelHolder, features: FeatureSource, *,
               poll_interval_s: float | None = None, freeze_gc: bool = True,
               experiment: ExperimentState | None = None) -> FastAPI:
    """The ranker app; the model loads (and the alias poll starts) in the lifespan."""
    from components.inference.model import parse_registry_uri

    limits = settings.serving
    metrics = Metrics()
    if experiment is None:
        experiment = ExperimentState(settings, parse_registry_uri(holder.uri)[0],
                                     prepare=lambda ranker: warm_up(ranker, features))
    impressions = (ImpressionLog(settings.resolve(limits.impression_log_dir), rotate_s=limits.impression_rotate_s,
                                 rotate_bytes=limits.impression_rotate_bytes, stale_s=limits.impression_stale_s)
                   if limits.impression_log_dir else None)
    interval = limits.reload_interval_s if poll_interval_s is None else poll_interval_s

    def on_swap(ranker: Ranker) -> None:
        torch = sys.modules.get("torch")  # loaded by a torch model; the pyfunc sets its own thread count
        if torch is not None and limits.torch_threads:
            torch.set_num_threads(limits.torch_threads)
        try:
            warm_up(ranker, features)
        except Exception as exc:  # a store hiccup must not block a model swap
            log.warning("warm-up failed: %s", exc)
        metrics.set_model(ranker)

    holder._on_swap = on_swap
    scoring_slots = anyio.CapacityLimiter(limits.concurrency)  # a queue in front of the model, FIFO

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # the first load runs in the poll thread: wait for it a bounded time, then serve /healthz
        # regardless, so a registry without the model (or out of reach) means "not ready", not a crash loop
        holder.start(interval)
        experiment.refresh(force=True)
        if impressions:
            impressions.start_rotation()  # an idle replica's file is closed on time too
        await run_in_threadpool(holder.first_attempt.wait, limits.startup_wait_s)
        if freeze_gc:
            gc.collect()
            gc.freeze()  # start-up objects (Feast, torch) leave the GC's scans: no 150 ms pauses
        yield
        holder.stop()
        experiment.close()
        if impressions:
            impressions.close()

    app = FastAPI(title="rankops ranker", version="1", lifespan=lifespan)
    app.state.holder, app.state.features, app.state.metrics = holder, features, metrics
    app.state.experiment = experiment

    def serve_rerank(ranker: Ranker, req: RerankRequest, request_id: str,
                     started: float) -> tuple[dict, dict[str, float]]:
        """Lookup, route under the experiment, log the impression: the whole request off the event loop.
        Also the seconds of each stage, for the Server-Timing header."""
        begun = time.perf_counter()
        frame = lookup_checked(features, req, reject_unknown=limits.reject_unknown_ids)
        looked_up = time.perf_counter()
        exp, challenger = experiment.active(ranker.version)
        session_id = req.session_id or request_id
        routed = route(ranker, challenger, exp, frame, req.candidates, session_id=session_id,
                       request_id=request_id, scorer=experiment.scorer)
        scored = time.perf_counter()
        latency_ms = (scored - started) * 1000
        if exp is not None:
            metrics.arms.labels(experiment=exp.name, mode=routed.mode, arm=routed.arm or "interleave").inc()
            if routed.fallback:
                metrics.fallbacks.labels(experiment=exp.name, reason=(routed.fallback_reason or "").split(":")[0]).inc()
        if impressions is not None:
            row = impression_of(req, routed, request_id=request_id, session_id=session_id, champion=ranker,
                                exp=exp, latency_ms=latency_ms)
            try:
                impressions.write(row)
                if routed.shadow_scores is not None:  # the challenger's view, for the shadow report only
                    served = dict(zip(routed.video_ids, routed.scores, strict=True))
                    impressions.write({"request_id": request_id, "ts": row["ts"], "experiment": row["experiment"],
                                       "candidates": req.candidates, "champion_scores": [served[c] for c in
                                       req.candidates], "challenger_scores": routed.shadow_scores}, kind="shadow")
            except OSError as exc:  # a full or read-only log volume must not cost the user the answer
                log.warning("impression log: %s", exc)
                metrics.errors.labels(kind="impression_log").inc()
        results = [{"video_id": v, "score": s, "rank": r} for r, (v, s) in
                   enumerate(zip(routed.video_ids, routed.scores, strict=True), 1)]
        stages = {"wait": begun - started, "lookup": looked_up - begun, "score": scored - looked_up,
                  "log": time.perf_counter() - scored}
        return {"request_id": request_id, "query": req.query, "model_name": ranker.name,
                "model_version": ranker.version, "results": results}, stages

    def respond(endpoint: str, status: int, body: dict, started: float,
                stages: dict[str, float] | None = None) -> JSONResponse:
        metrics.requests.labels(endpoint=endpoint, status=str(status)).inc()
        took = time.perf_counter() - started
        metrics.latency.labels(endpoint=endpoint).observe(took)
        # the server's own share of the latency a client sees (the standard header browsers show),
        # then its stages: wait = body read and parse + the hop to the worker thread
        timing = ", ".join(f"{name};dur={seconds * 1e3:.3f}" for name, seconds in {"app": took, **(stages or {})}.items())
        return JSONResponse(body, status_code=status, headers={"Server-Timing": timing})

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> JSONResponse:
        metrics.errors.labels(kind=f"client_{exc.status}").inc()
        return JSONResponse({"error": exc.message, "detail": exc.detail}, status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": "invalid request", "detail": exc.errors()[:5]}, status_code=422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        metrics.errors.labels(kind="internal").inc()
        return JSONResponse({"error": "internal error"}, status_code=500)

    @app.post("/rerank", response_model=RerankResponse,
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": RerankRequest.model_json_schema()}}}})
    async def rerank(request: Request) -> JSONResponse:
        """Order `candidates` for `query`, best first (4xx with a message for any bad request)."""
        started = time.perf_counter()
        try:
            body = await read_body(request, limits.max_body_bytes)
            req = parse_rerank(body, request.headers.get("content-type"), limits)
            ranker = holder.current
            if ranker is None:
                return respond("rerank", 503, {"error": "no model loaded yet"}, started)
            metrics.candidates.observe(len(req.candidates))
            experiment.refresh()
            request_id = request_id_of(request.headers.get("x-request-id"))
            result, stages = await anyio.to_thread.run_sync(serve_rerank, ranker, req, request_id, started,
                                                            limiter=scoring_slots)
        except BadRequest as exc:
            metrics.errors.labels(kind=f"client_{exc.status}").inc()
            return respond("rerank", exc.status, {"error": exc.message, "detail": exc.detail}, started)
        except Unavailable as exc:
            log.warning("%s", exc)
            metrics.errors.labels(kind="feature_store").inc()
            return respond("rerank", 503, {"error": str(exc)}, started)
        response = respond("rerank", 200, result, started, stages)
        response.headers["X-Request-Id"] = request_id
        return response

    @app.get("/healthz")
    async def healthz() -> dict:
        """The process is up (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Model loaded and feature store reachable (readiness)."""
        experiment.refresh()  # the probe's period keeps an idle pod's experiment current too
        ranker = holder.current
        loaded, reason = holder.status()
        checks, reasons = {"model": loaded, "feature_store": True}, [f"model: {reason}"] if reason else []
        try:
            await run_in_threadpool(features.ping)
        except Exception as exc:
            checks["feature_store"] = False
            reasons.append(f"feature store: {exc}")
        ok = all(checks.values())
        body = {"ready": ok, "checks": checks, "model_uri": holder.uri,
                "model_version": ranker.version if ranker else None, "error": "; ".join(reasons) or None}
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics")
    async def metrics_endpoint() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/experiment")
    async def experiment_status() -> dict:
        """The pinned experiment, whether it is live, and why not."""
        experiment.refresh()
        ranker = holder.current
        return experiment.status(ranker.version if ranker else None)

    @app.post("/admin/reload")
    async def admin_reload() -> JSONResponse:
        """Re-resolve the alias now and swap if it moved (same path as the background poll); re-read the experiment."""
        experiment.refresh(force=True)
        result = await run_in_threadpool(holder.reload)
        return JSONResponse(result, status_code=200 if "error" not in result else 502)

    return app


def bound_registry_calls(limits: ServingSettings, environ: MutableMapping[str, str]) -> None:
    """Cap MLflow's per-request timeout and retries in the ranker (defaults: 120 s x 7 retries), so an
    unreachable registry turns into a not-ready reason within seconds; explicit MLFLOW_HTTP_* values win."""
    environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(limits.registry_timeout_s))
    environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(limits.registry_retries))


def run_server(settings: Settings, *, port: int | None = None, host: str | None = None, model_uri: str) -> None:
    """Serve the profile's model and online store with uvicorn (blocks until stopped)."""
    import uvicorn

    from components.inference.features import online_source

    bound_registry_calls(settings.serving, os.environ)
    holder = ModelHolder(settings, model_uri)
    app = create_app(settings, holder, online_source(settings))
    uvicorn.run(app, host=host or settings.serving.host, port=port or settings.serving.port,
                log_level="warning", access_log=False)
