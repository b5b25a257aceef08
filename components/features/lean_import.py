"""Import Feast without the two costs that a feature step never uses.

`import feast` imports torch (feast.torch_wrapper, for tensor outputs of retrieval) and has typeguard
recompile the methods of its definition classes (FeatureView, OnDemandFeatureView, DataSource, ...)
for run-time argument checks. Measured side by side on this 2-core machine (benchmarks/local_loop.py):
those two are about 80 % of the import, paid again in every feature step of a pipeline run.

`import_feast()` imports it once with torch hidden and the typeguard decorator a pass-through, then
puts both back: later `import feast` statements get the loaded module; torch imports normally
afterwards (Feast's own tensor helpers say torch is unavailable in that process); typeguard checks
whatever is decorated later. Our definitions are still validated by Feast's apply and by the tests.
"""

from __future__ import annotations

import sys
from types import ModuleType


def import_feast() -> ModuleType:
    """The feast module, imported lean when no one imported it (or torch) before in this process."""
    if "feast" in sys.modules:
        return sys.modules["feast"]
    import typeguard

    hide_torch = "torch" not in sys.modules
    decorator = typeguard.typechecked
    typeguard.typechecked = _unchecked
    if hide_torch:
        sys.modules["torch"] = None  # type: ignore[assignment]  # "import torch" raises ImportError
    try:
        import feast
    finally:
        typeguard.typechecked = decorator
        if hide_torch and sys.modules.get("torch", 0) is None:
            del sys.modules["torch"]
    return feast


def _unchecked(target=None, **_options):
    """typeguard.typechecked's signature, returning its target unchanged (as under `python -O`)."""
    return (lambda func: func) if target is None else target
