"""Every `from <project module> import name` names something that module defines, function-local
imports included: those fail only when their function runs, and lint does not resolve them (a rename
once left a container test importing `log_tail` from a module that never had it)."""

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
ROOTS = ("components", "pipelines", "tests", "benchmarks", "feature_repo")
MODULE_ATTRIBUTES = {"__file__", "__name__", "__path__", "__doc__", "__spec__"}  # every module has these


def module_file(module: str) -> Path | None:
    base = REPO.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def defined_names(path: Path) -> set[str]:
    """Names bound at a module's top level, also under `if`/`try` (TYPE_CHECKING, fallbacks)."""
    names: set[str] = set()
    body = list(ast.parse(path.read_text(encoding="utf-8")).body)
    while body:
        node = body.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            body += [*node.body, *getattr(node, "orelse", []), *getattr(node, "finalbody", []),
                     *[s for h in getattr(node, "handlers", []) for s in h.body]]
    return names


def unresolved(path: Path) -> list[str]:
    where = path.relative_to(REPO) if path.is_relative_to(REPO) else path.name
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                and node.module.split(".")[0] in ROOTS):
            continue
        target = module_file(node.module)
        if target is None:
            found.append(f"{where}:{node.lineno}: no module {node.module}")
            continue
        names = defined_names(target) | MODULE_ATTRIBUTES
        found += [f"{where}:{node.lineno}: {node.module} has no {a.name}" for a in node.names
                  if a.name != "*" and a.name not in names and module_file(f"{node.module}.{a.name}") is None]
    return found


def test_every_project_import_names_something_its_module_defines():
    files = [p for root in ROOTS for p in (REPO / root).rglob("*.py") if "{{" not in str(p)]
    assert len(files) > 300
    assert [line for p in files for line in unresolved(p)] == []


def test_the_check_sees_a_function_local_import_of_a_missing_name(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from components.common.net import free_port, log_tail\n"
                     "    from components.common.nowhere import x\n")
    assert unresolved(probe) == ["probe.py:2: components.common.net has no log_tail",
                                 "probe.py:3: no module components.common.nowhere"]
