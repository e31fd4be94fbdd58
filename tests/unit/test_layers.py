"""The import graph between lambkin's parts keeps the shape ../shared/DESIGN.md draws: no cycle, the wire
protocols at the bottom, the faces at the top, the sandbox blind to functions and invokes.

A part is a folder of the package (`protocol`, `invoke`, ...) or a module beside them (`config`, `ids`).
Every `import` counts, a deferred one inside a function too: it is the same arrow, taken later.
"""

from __future__ import annotations

import ast
import functools
from collections import defaultdict
from collections.abc import Mapping, Set
from pathlib import Path

import lambkin

PACKAGE = Path(lambkin.__file__).resolve().parent
# The composition root and the faces built on it: nothing below them may import a face.
ROOTS = {"__main__", "app", "wiring", "regions", "cli"}
FACES = {"api", "cli"}


def _part(module: str) -> str:
    """The part a dotted module name of the package belongs to: `lambkin.invoke.core` -> `invoke`."""
    return module.split(".")[1]


def _imported(source: Path) -> set[str]:
    """The modules of the package that `source` imports, anywhere in it."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(), str(source))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module == "lambkin":  # from lambkin import ids, json_depth
                names.update(f"lambkin.{alias.name}" for alias in node.names)
            else:
                names.add(node.module)
    return {name for name in names if name.startswith("lambkin.")}


@functools.cache
def _graph() -> dict[str, frozenset[str]]:
    """Each part's arrows to the other parts it imports (read once: the tests below share it)."""
    arrows: dict[str, set[str]] = defaultdict(set)
    for source in PACKAGE.rglob("*.py"):
        part = source.relative_to(PACKAGE).parts[0].removesuffix(".py")
        arrows[part].update(_part(name) for name in _imported(source) if _part(name) != part)
    return {part: frozenset(imported) for part, imported in arrows.items()}


def _leaves(arrows: dict[str, frozenset[str]]) -> set[str]:
    """The single modules beside the parts that import nothing of lambkin (`ids`, `json_depth`)."""
    return {path.stem for path in PACKAGE.glob("*.py") if not arrows.get(path.stem)} - {"__init__"}


def _cycle(arrows: Mapping[str, Set[str]]) -> list[str]:
    """A cycle among the parts (the path that closes it), or [] when there is none."""
    done: set[str] = set()

    def visit(part: str, path: list[str]) -> list[str]:
        if part in path:
            return [*path[path.index(part) :], part]
        if part in done:
            return []
        for following in sorted(arrows.get(part, ())):
            found = visit(following, [*path, part])
            if found:
                return found
        done.add(part)
        return []

    for part in sorted(arrows):
        found = visit(part, [])
        if found:
            return found
    return []


def test_the_graph_is_read_from_every_import(tmp_path: Path) -> None:
    """The reading itself: every form of import counts, a deferred one too, and known arrows are found."""
    source = tmp_path / "module.py"
    source.write_text(
        "import json\nimport lambkin.store\nfrom lambkin import ids\nfrom lambkin.protocol.errors import AwsError\n"
        "def later() -> None:\n    from lambkin.invoke import core\n"
    )
    assert _imported(source) == {"lambkin.store", "lambkin.ids", "lambkin.protocol.errors", "lambkin.invoke"}
    arrows = _graph()
    assert "protocol" in arrows["api"]  # module level: api/aws_asgi.py
    assert "cli" in arrows["__main__"]  # python -m lambkin
    assert {"store", "protocol"} <= arrows["cluster"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) == []


def test_no_part_imports_one_that_imports_it_back() -> None:
    assert _cycle(_graph()) == []


def test_the_wire_protocols_import_nothing_of_lambkin_but_its_leaf_modules() -> None:
    """`protocol` knows nothing of Lambda's semantics: it may use what imports nothing of ours (ids)."""
    arrows = _graph()
    assert arrows["protocol"] <= _leaves(arrows), arrows["protocol"] - _leaves(arrows)


def test_only_the_composition_root_imports_a_face() -> None:
    arrows = _graph()
    wrong = {
        part: arrows[part] & FACES for part in arrows if part not in ROOTS | FACES and arrows[part] & FACES
    }
    assert not wrong


def test_the_sandbox_and_the_images_know_nothing_of_functions_or_invokes() -> None:
    arrows = _graph()
    above = {"functions", "invoke", "environments", "events", "api", "app", "wiring"}
    assert not arrows.get("sandbox", frozenset()) & above
    assert not arrows.get("images", frozenset()) & above
