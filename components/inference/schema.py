"""The /rerank contract and its validation: every bad request maps to one exact 4xx code."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from components.common.contract import FORBIDDEN, Chars
from components.inference.settings import ServingSettings

# the impression log's field table (IMPRESSION_RULES): a value it would quarantine is refused here, with a 422
LINE_CONTROL = re.compile(FORBIDDEN[Chars.LINE])


class RerankRequest(BaseModel):
    """A query and the video ids to order (strict: no coercion, no extra keys)."""

    model_config = ConfigDict(extra="forbid")

    query: StrictStr
    candidates: list[StrictStr]
    session_id: StrictStr | None = Field(None, max_length=128, description="Keys the A/B arm; default: per request.")
    query_id: StrictStr | None = Field(None, max_length=128, description="Logged with the impression.")


class ScoredCandidate(BaseModel):
    video_id: str
    score: float
    rank: int


class RerankResponse(BaseModel):
    request_id: str | None = Field(None, description="Joins clicks to the impression log (also X-Request-Id).")
    query: str
    model_name: str | None
    model_version: str | None
    results: list[ScoredCandidate] = Field(description="Best first.")


class BadRequest(Exception):
    """A client error: HTTP status and a message that says what to fix."""

    def __init__(self, status: int, message: str, detail: object | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.detail = detail


def _first_errors(exc: ValidationError, n: int = 5) -> list[dict[str, str]]:
    return [{"field": ".".join(str(p) for p in e["loc"]) or "body", "error": e["msg"]} for e in exc.errors()[:n]]


def parse_rerank(body: bytes, content_type: str | None, limits: ServingSettings) -> RerankRequest:
    """Validate a raw /rerank body: 415 wrong type, 413 too big, 400 bad JSON, 422 schema/limits."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise BadRequest(415, f"content type must be application/json, got {media or 'none'!r}")
    if len(body) > limits.max_body_bytes:
        raise BadRequest(413, f"body of {len(body)} bytes is over the limit of {limits.max_body_bytes}")
    if not body.strip():
        raise BadRequest(400, "empty body: send {\"query\": str, \"candidates\": [video_id, ...]}")
    try:
        req = RerankRequest.model_validate_json(body)
    except ValidationError as exc:
        if any(e["type"] in ("json_invalid", "json_type") for e in exc.errors()):
            raise BadRequest(400, "body is not valid JSON") from None
        raise BadRequest(422, "request does not match {\"query\": str, \"candidates\": [str, ...]}",
                         _first_errors(exc)) from None
    check_limits(req, limits)
    return req


def check_limits(req: RerankRequest, limits: ServingSettings) -> None:
    """Reject empty/over-long queries, empty/too many/duplicate/malformed candidate ids, and text the impression
    log's contract would quarantine: a blank or control character in query, session_id or query_id (422)."""
    if len(req.query) > limits.max_query_chars:
        raise BadRequest(422, f"query has {len(req.query)} characters, the limit is {limits.max_query_chars}")
    for name in ("query", "session_id", "query_id"):
        value = getattr(req, name)
        if value is None:
            continue
        if not value.strip():
            raise BadRequest(422, f"{name} is blank")
        bad = LINE_CONTROL.search(value)
        if bad:
            raise BadRequest(422, f"{name} contains the control character U+{ord(bad.group()):04X}")
    if not req.candidates:
        raise BadRequest(422, "candidates is empty")
    if len(req.candidates) > limits.max_candidates:
        raise BadRequest(422, f"{len(req.candidates)} candidates, the limit is {limits.max_candidates}")
    bad = [c for c in req.candidates if not c or len(c) > limits.max_candidate_id_chars or not c.isprintable()]
    if bad:
        raise BadRequest(422, f"{len(bad)} candidate id(s) are empty, over {limits.max_candidate_id_chars} "
                              "characters or not printable", {"examples": [b[:80] for b in bad[:5]]})
    if len(set(req.candidates)) != len(req.candidates):
        seen: set[str] = set()
        dupes = sorted({c for c in req.candidates if c in seen or seen.add(c)})
        raise BadRequest(422, "duplicate candidate ids", {"duplicates": dupes[:20]})
