"""The ranker's live model: resolved from a registry alias (or pinned version), swapped atomically.

A reload loads the new version fully before one reference assignment makes it current, so
requests in flight finish on the old model and no request ever sees a half-loaded one.
The first load runs in the background like every later one: a registry that is slow, unreachable
or has no such model yet leaves the ranker up and not ready with the reason, never crash-looping.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from components.inference.model import Ranker, load_ranker, resolve_version

if TYPE_CHECKING:
    from components.common.config import Settings

log = logging.getLogger(__name__)


class ModelHolder:
    """Holds the current Ranker for `uri`; `reload()` swaps it when the alias points elsewhere."""

    def __init__(self, settings: Settings, uri: str, *, on_swap: Callable[[Ranker], None] | None = None):
        self.settings = settings
        self.uri = uri
        self.current: Ranker | None = None
        self.last_error: str | None = None
        self.loading_since: float | None = None  # monotonic start of the reload in progress
        self.first_attempt = threading.Event()  # set when the first load has succeeded or failed
        self._on_swap = on_swap
        self._lock = threading.Lock()  # one reload at a time; readers never take it
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def reload(self, *, force: bool = False) -> dict[str, object]:
        """Load the version `uri` resolves to now if it differs from the current one (or `force`)."""
        with self._lock:
            try:
                return self._swap_if_moved(force)
            finally:  # only once the swap is done: start-up waits on this, then serves the model
                self.first_attempt.set()

    def _swap_if_moved(self, force: bool) -> dict[str, object]:
        old = self.current.version if self.current else None
        self.loading_since = time.monotonic()
        try:
            _, version = resolve_version(self.settings, self.uri)
            if self.current is not None and version == old and not force:
                return {"changed": False, "version": old}
            ranker = load_ranker(self.settings, self.uri, cache_documents=self.settings.serving.cache_documents)
        except Exception as exc:  # keep serving the old model; report the failure
            self.last_error = str(exc)
            log.warning("model reload of %s failed, keeping version %s: %s", self.uri, old, exc)
            return {"changed": False, "version": old, "error": str(exc)}
        finally:
            self.loading_since = None
        if self._on_swap:
            self._on_swap(ranker)
        self.current = ranker
        self.last_error = None
        log.info("serving %s version %s (was %s)", ranker.name, ranker.version, old)
        return {"changed": ranker.version != old, "version": ranker.version, "previous": old}

    def start(self, interval_s: float) -> None:
        """Load now (unless a model is loaded), then poll every `interval_s` seconds (0 = never), in a daemon thread."""
        if self._thread is not None:
            return

        def poll() -> None:
            if self.current is None:
                self.reload()
            while interval_s > 0 and not self._stop.wait(interval_s):
                self.reload()

        self._thread = threading.Thread(target=poll, name="model-reload", daemon=True)
        self._thread.start()

    def status(self) -> tuple[bool, str | None]:
        """(loaded, reason when not): the failure of the last attempt, or the load still in progress."""
        if self.current is not None:
            return True, None
        since = self.loading_since
        if since is not None:
            return False, f"loading {self.uri} (for {time.monotonic() - since:.0f} s)"
        return False, self.last_error or f"{self.uri} not loaded yet"

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
