"""Dependencies point one way (README, Layout): CLI/DAG → nightly → stages → warehouse/contract, with no
circle anywhere, counting imports inside functions too."""
import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "poverty_warning"
ENTRY = {"cli", "demo", "benchmark", "spark_check", "airflow_local", "training", "simulation", "spark"}
STAGES = {"ingest", "quality", "transform", "risk", "outreach", "publish"}
BASE = {"warehouse", "workspace", "settings", "contract", "policy", "synth"}


def _modules() -> dict[str, set[str]]:
    """module -> the package's modules it imports (anywhere in the file)."""
    graph = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = ".".join(parts[:-1])
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                if base.startswith("poverty_warning"):
                    found.add(base)
                    found.update(f"{base}.{a.name}" for a in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name for a in node.names if a.name.startswith("poverty_warning"))
        graph[name] = found
    return {m: {i for i in deps if i in graph and i != m} for m, deps in graph.items()}


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_no_stage_or_base_module_imports_upwards():
    wrong = []
    for module, deps in _modules().items():
        top = _top(module)
        for dep in deps:
            above = _top(dep)
            if top in STAGES | BASE and above in ENTRY | {"nightly"}:
                wrong.append(f"{module} -> {dep}")
            if top in BASE and above in STAGES:
                wrong.append(f"{module} -> {dep}")
    assert not wrong, wrong


def test_no_import_circles():
    graph = _modules()
    graph = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}  # a package's own __init__
    seen, stack, cycles = {}, [], []

    def visit(node):
        seen[node] = "open"
        stack.append(node)
        for nxt in graph.get(node, ()):
            if seen.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in seen:
                visit(nxt)
        stack.pop()
        seen[node] = "done"

    for module in sorted(graph):
        if module not in seen:
            visit(module)
    assert not cycles, cycles[:5]
