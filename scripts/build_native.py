"""Compiles the modules named in lambkin.compiled.COMPILED with mypyc, each beside its source (`make native`).

Run from the project's root with the project's virtualenv: .venv/bin/python scripts/build_native.py
The C sources and objects go to .cache/native; the stamp is written last, so a build that fails leaves the
package running from source (lambkin.compiled). `--into SITE` builds for a copy of this checkout installed
there (`pip install .`): the extensions and the stamp go to SITE/lambkin instead of src/lambkin.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from mypyc.build import mypycify
from setuptools import Distribution

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".cache" / "native"


def _compiled_module() -> Any:
    """lambkin/compiled.py read on its own: importing the package would find its build stale, and say so."""
    spec = importlib.util.spec_from_file_location(
        "lambkin_compiled", ROOT / "src" / "lambkin" / "compiled.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="build_native")
    parser.add_argument("--into", type=Path, help="a site-packages directory lambkin is installed in")
    args = parser.parse_args(argv)
    compiled = _compiled_module()
    target = args.into.resolve() if args.into else ROOT / "src"
    stamp = target / compiled.STAMP.relative_to(ROOT / "src")
    stamp.unlink(missing_ok=True)
    for extension in (target / "lambkin").rglob("*.so"):  # a module no longer named stays no extension
        extension.unlink()
    for group_library in target.glob("*__mypyc.*.so"):
        group_library.unlink()
    sources = [str(compiled.source_of(module).relative_to(ROOT)) for module in compiled.COMPILED]
    extensions = mypycify(
        ["--config-file", str(ROOT / "pyproject.toml"), *sources], opt_level="3", target_dir=str(WORK / "c")
    )
    distribution = Distribution({"ext_modules": extensions, "package_dir": {"": "src"}})
    build = distribution.get_command_obj("build_ext")
    if args.into is None:
        build.inplace = True  # beside the sources in src/
    else:
        build.build_lib = str(target)
    build.build_temp = str(WORK / "objects")
    distribution.run_command("build_ext")
    stamp.write_text("\n".join(compiled.COMPILED) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
