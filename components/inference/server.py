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
from collections.abc import MutableMapping
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from components.inference.features import FeatureSource, unknown_ids
from components.inference.schema import BadRequest, RerankRequest, RerankResponse, parse_rerank
from components.inference.state import ModelHolder

if TYPE_CHECKING:
    from components.common.config import Settings
    from components.inference.model import Ranker
    from components.inference.settings import ServingSettings

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
        self._served: tuple[str, str] | None = None

    def set_model(self, ranker: Ranker) -> None:
        labels = (ranker.name or "", ranker.version or "")
        if self._served and self._served != labels:
            self.model.remove(*self._served)
        self.model.labels(*labels).set(1)
        self._served = labels
        self.reloads.inc()


def rank(ranker: Ranker, features: FeatureSource, req: RerankRequest, *, reject_unknown: bool) -> RerankResponse:
    """Score the candidates with one batched feature lookup; best first, ties by input order."""

    try:
        frame = features.lookup(req.query, req.candidates)
    except Exception as exc:  # the store, not the request, failed: 503 so clients retry elsewhere
        raise Unavailable(f"feature store unavailable: {exc}") from exc
    if reject_unknown:
        missing = unknown_ids(frame)
        if missing:
            raise BadRequest(404, f"{len(missing)} candidate id(s) unknown to the feature store",
                             {"unknown": missing[:50]})
    return ranked_response(ranker, req, ranker.predict(frame))


def ranked_response(ranker: Ranker, req: RerankRequest, scores) -> RerankResponse:
    """The candidates best first, ties by input order."""
    import numpy as np

    order = np.argsort(-scores, kind="stable")
    results = [{"video_id": req.candidates[i], "score": float(scores[i]), "rank": r + 1}
               for r, i in enumerate(order)]
    return RerankResponse(query=req.query, model_name=ranker.name, model_version=ranker.version,
                          results=results)


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
               poll_interval_s: float | None = None, freeze_gc: bool = True) -> FastAPI:
    """The ranker app; the model loads (and the alias poll starts) in the lifespan."""
    limits = settings.serving
    metrics = Metrics()
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

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # the first load runs in the poll thread: wait for it a bounded time, then serve /healthz
        # regardless, so a registry without the model (or out of reach) means "not ready", not a crash loop
        holder.start(interval)
        await run_in_threadpool(holder.first_attempt.wait, limits.startup_wait_s)
        if freeze_gc:
            gc.collect()
            gc.freeze()  # start-up objects (Feast, torch) leave the GC's scans: no 150 ms pauses
        yield
        holder.stop()

    app = FastAPI(title="rankops ranker", version="1", lifespan=lifespan)
    app.state.holder, app.state.features, app.state.metrics = holder, features, metrics

    def respond(endpoint: str, status: int, body: dict, started: float) -> JSONResponse:
        metrics.requests.labels(endpoint=endpoint, status=str(status)).inc()
        metrics.latency.labels(endpoint=endpoint).observe(time.perf_counter() - started)
        return JSONResponse(body, status_code=status)

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
            result = await run_in_threadpool(rank, ranker, features, req, reject_unknown=limits.reject_unknown_ids)
        except BadRequest as exc:
            metrics.errors.labels(kind=f"client_{exc.status}").inc()
            return respond("rerank", exc.status, {"error": exc.message, "detail": exc.detail}, started)
        except Unavailable as exc:
            log.warning("%s", exc)
            metrics.errors.labels(kind="feature_store").inc()
            return respond("rerank", 503, {"error": str(exc)}, started)
        return respond("rerank", 200, result.model_dump(), started)

    @app.get("/healthz")
    async def healthz() -> dict:
        """The process is up (liveness)."""
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        """Model loaded and feature store reachable (readiness)."""
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

    @app.post("/admin/reload")
    async def admin_reload() -> JSONResponse:
        """Re-resolve the alias now and swap if it moved (same path as the background poll)."""
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
