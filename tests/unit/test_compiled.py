"""The hot paths' modules run compiled only while their build is as new as every source (lambkin.compiled)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

import lambkin.http11.connection
from lambkin import compiled

# Context managers whose __aexit__ never suspends: leaving them while an exception propagates is safe.
_NEVER_SUSPEND_ON_EXIT = {"asyncio.timeout"}


def _suspends_while_handling(function: ast.FunctionDef | ast.AsyncFunctionDef) -> list[int]:
    """Lines where `function` may suspend while an exception is being handled: an await or a yield in an
    except or finally block, or an `async with` whose exit may await."""
    lines = []
    suspends = (ast.Await, ast.AsyncFor, ast.AsyncWith, ast.Yield, ast.YieldFrom)
    for node in ast.walk(function):
        if isinstance(node, ast.Try | ast.TryStar):
            for block in [*node.handlers, *node.finalbody]:
                lines += [inner.lineno for inner in ast.walk(block) if isinstance(inner, suspends)]
        elif isinstance(node, ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                name = ast.unparse(call.func if isinstance(call, ast.Call) else call)
                if name not in _NEVER_SUSPEND_ON_EXIT:
                    lines.append(node.lineno)
    return lines


def test_no_compiled_coroutine_suspends_while_it_handles_an_exception() -> None:
    """mypyc (2.4) keeps the exception being handled in the thread's state when a compiled coroutine (or
    generator) suspends in an except or finally block (or in an `async with` exit): every later exception
    would carry it as its __context__ and sys.exc_info() would return it. Such code stays interpreted."""
    found = []
    for module in compiled.COMPILED:
        tree = ast.parse(compiled.source_of(module).read_text())
        for function in ast.walk(tree):
            if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                found += [f"{module}:{line} ({function.name})" for line in _suspends_while_handling(function)]
    assert found == []


def _package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    package = tmp_path / "lambkin"
    (package / "http11").mkdir(parents=True)
    source = package / "http11" / "connection.py"
    source.write_text("")
    stamp = package / "compiled.stamp"
    monkeypatch.setattr(compiled, "PACKAGE", package)
    monkeypatch.setattr(compiled, "STAMP", stamp)
    return source, stamp


def test_a_build_is_stale_without_its_stamp_or_when_any_source_is_newer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source, stamp = _package(tmp_path, monkeypatch)
    assert compiled.stale()  # never built
    stamp.write_text("")
    os.utime(source, ns=(stamp.stat().st_mtime_ns - 10**9,) * 2)
    assert not compiled.stale()
    os.utime(source, ns=(stamp.stat().st_mtime_ns + 10**9,) * 2)  # edited after the build
    assert compiled.stale()


def test_stale_modules_are_imported_from_their_sources() -> None:
    script = (
        "import sys\n"
        "from lambkin import compiled\n"
        "sys.meta_path.insert(0, compiled._FromSource())\n"
        "import lambkin.http11.connection as c, lambkin.ids as i\n"
        "print(c.__file__, i.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    files = out.stdout.split()
    assert [Path(name).suffix for name in files] == [".py", ".py"]


def test_this_run_uses_the_build_exactly_when_it_is_fresh() -> None:
    if not compiled.built():
        pytest.skip("no compiled modules here (make native)")
    loaded = Path(lambkin.http11.connection.__file__ or "")
    assert loaded.suffix == (".py" if compiled.stale() else ".so")
