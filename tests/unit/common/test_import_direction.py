"""The house's floors: `common` is the ground floor (it imports no stage; stages register their config
sections, and the data contract lives in common), and stages talk through artifacts, not each other's I/O.

A stage importing another stage's `kfp_io` couples two KFP components' private wiring; shared
artifact keys live in `components/common/artifacts.py`.
"""

import ast
from pathlib import Path

COMPONENTS = Path(__file__).resolve().parents[3] / "components"


def imported_modules(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
    return found


def stage_of(path: Path) -> str:
    return path.relative_to(COMPONENTS).parts[0]


def test_no_stage_imports_another_stages_kfp_io():
    offenders = []
    for path in COMPONENTS.rglob("*.py"):
        for module in imported_modules(path):
            parts = module.split(".")
            if parts[0] == "components" and len(parts) > 2 and parts[2] == "kfp_io" and parts[1] != stage_of(path):
                offenders.append(f"{path.relative_to(COMPONENTS)} imports {module}")
    assert offenders == []


def test_the_check_sees_an_offending_import(tmp_path):
    bad = tmp_path / "m.py"
    bad.write_text("def f():\n    from components.training.kfp_io import run_train_op\n", encoding="utf-8")
    assert imported_modules(bad) == ["components.training.kfp_io"]


def test_common_imports_no_stage():
    stages = {p.name for p in COMPONENTS.iterdir() if p.is_dir() and (p / "__init__.py").exists()} - {"common"}
    offenders = [f"{path.relative_to(COMPONENTS)} imports {module}"
                 for path in (COMPONENTS / "common").rglob("*.py") for module in imported_modules(path)
                 if module.split(".")[:2][-1] in stages and module.startswith("components.")]
    assert offenders == []
