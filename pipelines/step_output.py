"""Short output for local runs: kfp.local's bookkeeping at debug level, progress lines shown.

kfp.local prints each step's output with print() (indented four spaces) and its own records through
a root handler on stdout; the KFP executor inside a step logs its full input JSON, where it found the
component and where it wrote its output, all at INFO. During a local run sys.stdout is a StepOutput:
task start and end, the steps' own log records, warnings, errors and tracebacks pass through; the
bookkeeping is shown only at debug level (`rankops -v`). Every line, shown or not, goes to the run's
full log file, so nothing is lost when a step fails.
"""

from __future__ import annotations

import io
import re
import threading
from typing import TextIO

ANSI = re.compile(r"\x1b\[[0-9;]*m")
# kfp.local's own records: "14:00:00.123 - INFO - message"
OUTER = re.compile(r"^(?:\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d(?:[.,]\d+)? - [A-Z]+ - (?P<msg>.*)$")
# records logged inside a step (the executor configures the step's root logger this way)
STEP = re.compile(r"^\[KFP Executor [^\]]* (?P<level>[A-Z]+)\]: (?P<msg>.*)$")
STEP_INDENT = "    "  # kfp.local indents what a step prints
OUTER_HIDDEN = ("Streamed logs:", "has no outputs")
STEP_HIDDEN = ("Looking for component", "Loading KFP component", "Got executor_input:",
               "Wrote executor output file", "Did not write output file")
# library chatter a step cannot silence before its first line runs; shown at debug level
CHATTER = ("Registry cache expired", "Registry file not found", "Closing down clientserver connection",
           "Cannot use sqlite_vec", "Setting default log level to",
           "To adjust logging level use sc.setLogLevel", "Using incubator modules",
           "Using Spark's default log4j profile", "WARN NativeCodeLoader: Unable to load native-hadoop",
           "Downloading artifacts: ")  # MLflow's progress bars
# a library's own INFO records ("2026/11/30 14:39:32 INFO mlflow...: ...") and a library's Python warning
# ("/…/site-packages/x.py:12: UserWarning: ..." then the indented source line)
LIBRARY_INFO = re.compile(r"^\d{4}/\d\d/\d\d \d\d:\d\d:\d\d (?:DEBUG|INFO) ")
LIBRARY_WARNING = re.compile(r"^/\S*/site-packages/\S+:\d+: \w*Warning: ")


class StepOutput(io.TextIOBase):
    """A text stream that shows progress lines on `shown` and the rest only when `verbose`.

    `full_log` (optional) receives every line as kfp.local wrote it. Writes take a lock: kfp.local runs
    ParallelFor iterations in threads, and two writes at once could lose text from the line being assembled.
    """

    def __init__(self, shown: TextIO, full_log: TextIO | None = None, *, verbose: bool = False):
        self.shown, self.full_log, self.verbose = shown, full_log, verbose
        self._pending = ""
        self._hide_until: str | None = None  # the line that ends a hidden block (kept hidden too)
        self._after_warning = False  # the source line Python prints under a warning
        self.hidden_lines = 0
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def _logging(self) -> bool:
        """The run's full log is open (a logging handler made during the run may write after it closed)."""
        return self.full_log is not None and not self.full_log.closed

    def write(self, text: str) -> int:
        with self._lock:
            if self._logging():
                self.full_log.write(text)
                if "\n" in text:  # the log is read while a long step runs
                    self.full_log.flush()
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._line(line)
        return len(text)

    def flush(self) -> None:
        if self._logging():
            self.full_log.flush()
        self.shown.flush()

    def close_pending(self) -> None:
        """Emit a last line that ended without a newline."""
        with self._lock:
            if self._pending:
                line, self._pending = self._pending, ""
                self._line(line)

    def _line(self, line: str) -> None:
        if self._show(ANSI.sub("", line)) or self.verbose:
            self.shown.write(line + "\n")
        else:
            self.hidden_lines += 1

    def _show(self, plain: str) -> bool:
        after_warning, self._after_warning = self._after_warning, False
        if self._hide_until is not None:
            if re.fullmatch(self._hide_until, plain):
                self._hide_until = None
            return False
        if not plain.strip() or set(plain.strip()) == {"-"}:  # blank lines and kfp.local's rulers
            return False
        outer = OUTER.match(plain)
        if outer:
            msg = outer["msg"]
            if msg.endswith(" outputs:"):  # the artifact listing, up to the ruler that ends the task
                self._hide_until = r"-+"
                return False
            return not msg.startswith(OUTER_HIDDEN) and not msg.endswith(OUTER_HIDDEN)
        inner = plain[len(STEP_INDENT):] if plain.startswith(STEP_INDENT) else plain
        step = STEP.match(inner)
        if step:
            if step["msg"].startswith("Got executor_input:"):  # a JSON object, closed by "}" at column 0
                self._hide_until = re.escape(STEP_INDENT) + r"\}"
            if step["level"] in ("DEBUG", "INFO") and step["msg"].startswith(STEP_HIDDEN + CHATTER):
                return False
            return True
        if LIBRARY_WARNING.match(inner):
            self._after_warning = True
            return False
        if after_warning and inner.startswith("  "):
            return False
        return not (LIBRARY_INFO.match(inner) or any(c in inner for c in CHATTER))
