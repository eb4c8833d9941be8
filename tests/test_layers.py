"""The packages form layers that point one way, read from the source itself (ast).

Bottom to top: ``lib`` (helpers; imports no app), then the apps in ``LAYERS``
order, then the project package (settings, URLs, dashboard, health). A module
may import its own package and any package below it. Imports inside functions
count: a deferred import still ties the two modules together. Imports under
``if TYPE_CHECKING:`` do not, since they never run. A lower app tells a higher
one what happened with a signal, never with an import.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYERS = [
    "lib", "accounts", "events", "partners", "deliveries", "reporting", "monitoring", "ingest", "console",
    "postback_platform",
]


def _modules() -> dict[str, Path]:
    found = {}
    for package in LAYERS:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", None)) == "TYPE_CHECKING":
            yield from (n for child in node.orelse for n in [child, *_runtime_nodes(child)])
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of ``modules`` that ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in modules and target != name)
    return found


GRAPH = {name: _imports(name, path, _modules()) for name, path in _modules().items()}


def _layer(module: str) -> int:
    return LAYERS.index(module.partition(".")[0])


def test_lib_imports_no_app():
    assert not {(name, target) for name, targets in GRAPH.items() if name.startswith("lib.")
                for target in targets if not target.startswith("lib")}


def test_imports_point_down_the_layers():
    upward = {(name, target) for name, targets in GRAPH.items() for target in targets if _layer(target) > _layer(name)}
    assert upward == set(), "an import points up the layers: move the code to the layer it belongs to, or send a signal"


def test_no_module_imports_itself_through_others():
    assert _cycles() == [], "modules that import each other, directly or through others"


def _cycles() -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan), iteratively."""
    index, low, on_stack, stack, groups = {}, {}, set(), [], []
    for root in GRAPH:
        if root in index:
            continue
        work = [(root, iter(sorted(GRAPH[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(group)
    return groups
