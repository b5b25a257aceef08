"""Timing probe for benchmarks/local_loop.py: loaded by every Python process of a local pipeline run.

Only active when RANKOPS_LOOP_PROBE names a folder (the benchmark puts this folder on PYTHONPATH
and sets it); then each KFP step process writes one JSON line there at exit with:
  interpreter: process creation -> this file runs (Python start-up, site, .pth files);
  imports:     time inside top-level `import` statements and importlib.import_module (nested ones
               are inside their parent's time);
  startup:     Spark session, Feast FeatureStore and MLflow client construction, by kind;
  wall:        process creation -> exit.
Not part of the project's packages: nothing here runs unless the benchmark asks for it.
"""

import os

_DIR = os.environ.get("RANKOPS_LOOP_PROBE")


def _install(out_dir: str) -> None:
    import atexit
    import builtins
    import importlib
    import json
    import sys
    import threading
    import time

    ticks = os.sysconf("SC_CLK_TCK")
    with open("/proc/self/stat") as fh:
        start_ticks = int(fh.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/uptime") as fh:
        uptime = float(fh.read().split()[0])
    born = time.time() - (uptime - start_ticks / ticks)
    state = {"interpreter": time.time() - born, "imports": 0.0, "startup": {}, "modules": {}}
    local = threading.local()
    patched: set[str] = set()

    def timed_startup(kind: str, func):
        def wrapper(*args, **kwargs):
            depth = getattr(local, "startup", 0)
            local.startup = depth + 1
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                local.startup = depth
                if depth == 0:
                    state["startup"][kind] = state["startup"].get(kind, 0.0) + time.perf_counter() - t
        wrapper.__wrapped__ = func
        return wrapper

    def patch_loaded() -> None:
        if "components.common.spark" in sys.modules and "spark" not in patched:
            patched.add("spark")
            mod = sys.modules["components.common.spark"]
            mod.get_spark = timed_startup("spark", mod.get_spark)
        if "feast" in sys.modules and "feast" not in patched and hasattr(sys.modules["feast"], "FeatureStore"):
            patched.add("feast")
            cls = sys.modules["feast"].FeatureStore
            cls.__init__ = timed_startup("feast", cls.__init__)
        if "mlflow.tracking" in sys.modules and "mlflow" not in patched \
                and hasattr(sys.modules["mlflow.tracking"], "MlflowClient"):
            patched.add("mlflow")
            cls = sys.modules["mlflow.tracking"].MlflowClient
            cls.__init__ = timed_startup("mlflow", cls.__init__)

    real_import, real_import_module = builtins.__import__, importlib.import_module

    def timed(func):
        def wrapper(*args, **kwargs):
            depth = getattr(local, "depth", 0)
            if depth:
                return func(*args, **kwargs)
            local.depth = 1
            t = time.perf_counter()
            try:
                return func(*args, **kwargs)
            finally:
                local.depth = 0
                if not getattr(local, "startup", 0):  # imports done while starting a service count there
                    spent = time.perf_counter() - t
                    state["imports"] += spent
                    if spent > 0.05:  # the heavy ones, by the name the statement imported
                        name = str(args[0]) if args else str(kwargs.get("name", "?"))
                        state["modules"][name] = state["modules"].get(name, 0.0) + spent
                patch_loaded()
        return wrapper

    builtins.__import__ = timed(real_import)
    importlib.import_module = timed(real_import_module)

    def write() -> None:
        argv = sys.argv
        if not any(a.startswith("--executor_input") for a in argv) and "kfp.dsl.executor_main" not in " ".join(argv):
            return
        task = ""
        for i, a in enumerate(argv):
            if a == "--executor_input" and i + 1 < len(argv):
                task = _task_of(json.loads(argv[i + 1]))
        record = {"pid": os.getpid(), "task": task, "wall": time.time() - born, **state}
        with open(os.path.join(out_dir, f"{os.getpid()}.json"), "w") as fh:
            json.dump(record, fh)

    atexit.register(write)


def _task_of(executor_input: dict) -> str:
    """The task's name: outputs live under <run root>/<task>/<output> (kfp.local layout)."""
    outputs = executor_input.get("outputs", {})
    output_file = outputs.get("outputFile", "")
    if output_file:
        return os.path.basename(os.path.dirname(output_file))
    return ""


if _DIR:
    _install(_DIR)
