"""genzoo's own modules import each other without cycles, and lazy imports say why they are lazy.

The graph is read from the source (ast), module-level and function-local imports alike: a
cycle hidden behind a function-local import is still a cycle between the two modules' jobs.
Importing a module imports its parent packages anyway, so an edge to an ancestor package is
not counted; an edge to a package counts as edges to the submodules its __init__ pulls in.

A function-local import is allowed where importing at the top would slow `import genzoo` or
`genzoo --help` (torch, a plugin, a heavy submodule); the line (or the one above it) carries a
comment saying so.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = [ROOT / "genzoo"] + sorted((ROOT / "plugins").glob("*/genzoo_*"))


def _module_name(path: Path, base: Path) -> str:
    parts = list(path.relative_to(base).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    mods: dict[str, Path] = {}
    for pkg in PACKAGES:
        for p in pkg.rglob("*.py"):
            mods[_module_name(p, pkg.parent)] = p
    return mods


def _resolve(mod: str, node: ast.ImportFrom | ast.Import, is_pkg: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
        anchor = anchor[: len(anchor) - (node.level - 1)]
        base = ".".join(anchor + ([base] if base else []))
    return [base] + [f"{base}.{a.name}" for a in node.names]


def _under_type_checking(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for sub in node.body:
                skip.update(id(n) for n in ast.walk(sub))
    return skip


def import_graph() -> dict[str, set[str]]:
    mods = _sources()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        tree = ast.parse(path.read_text())
        skip = _under_type_checking(tree)
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in skip:
                continue
            for target in _resolve(mod, node, path.name == "__init__.py"):
                if target in mods and target != mod and not mod.startswith(target + "."):
                    graph[mod].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def _commented(lines: list[str], i: int) -> bool:
    """A comment on the import's line, on another line of the same block of imports, or just above it."""
    while i > 0 and lines[i - 1].strip().startswith(("import ", "from ")):
        if "#" in lines[i]:
            return True
        i -= 1
    return "#" in lines[i] or (i > 0 and lines[i - 1].strip().startswith("#"))


def local_imports() -> list[tuple[Path, int, str, bool]]:
    """(file, line, import text, has a comment saying why) for every function-local import."""
    found = []
    for mod, path in _sources().items():
        lines = path.read_text().splitlines()
        tree = ast.parse("\n".join(lines))
        for fn in ast.walk(tree):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    found.append((path.relative_to(ROOT), node.lineno, lines[node.lineno - 1].strip(),
                                  _commented(lines, node.lineno - 1)))
    return found


def test_the_graph_sees_real_edges():
    g = import_graph()
    assert "genzoo.errors" in g["genzoo.registry"]
    assert "genzoo.plugin" in g["genzoo_dcgan"]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles between genzoo modules: " + "; ".join(" <-> ".join(c) for c in found)


def test_every_function_local_import_says_why():
    bare = [f"{p}:{n}: {text}" for p, n, text, commented in local_imports() if not commented]
    assert not bare, f"{len(bare)} function-local imports without a comment saying why they are lazy:\n" + "\n".join(bare[:40])
