"""import_feast: Feast without torch or typeguard's recompiling, and both back to normal afterwards.

Runs in a fresh interpreter: the test process may have imported feast or torch already.
"""

import json
import subprocess
import sys
from pathlib import Path

CHECK = """
import json, sys
import typeguard
decorator = typeguard.typechecked
from components.features.lean_import import import_feast
feast = import_feast()
torch_hidden = "torch" not in sys.modules
from feast import FeatureView
import feast.torch_wrapper as tw
import torch


def checked(cls):
    # typeguard recompiles a checked method with its TypeCheckMemo in the code
    return sorted(n for n, f in vars(cls).items() if callable(f) and "TypeCheckMemo" in f.__code__.co_names)


class Later:
    def name(self, x: int) -> str:
        return str(x)


out = {
    "same_module": import_feast() is feast is sys.modules["feast"],
    "torch_hidden_during_import": torch_hidden,
    "feast_sees_torch": tw.TORCH_AVAILABLE,
    "torch_after": torch.tensor([2, 3]).sum().item(),
    "decorator_restored": typeguard.typechecked is decorator,
    "feature_view_checked": checked(FeatureView),
    "checked_after": checked(typeguard.typechecked(Later)),
}
print(json.dumps(out))
"""


def test_feast_imports_without_torch_or_typeguard_and_both_come_back(tmp_path):
    root = Path(__file__).resolve().parents[3]
    script = tmp_path / "check_lean_import.py"  # a file: typeguard reads the source it recompiles
    script.write_text(CHECK)
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=root, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == {
        "same_module": True,
        "torch_hidden_during_import": True,
        "feast_sees_torch": False,
        "torch_after": 5,
        "decorator_restored": True,
        "feature_view_checked": [],
        "checked_after": ["name"],
    }
