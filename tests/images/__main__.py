"""`python -m tests.images build [NAME...] | list | path NAME | rootfs NAME | rie`: the toolchain's command line."""

from __future__ import annotations

import argparse
import sys
import time

from tests.images import build as _build
from tests.images import build_all, image_digest, image_path, rie_path, rootfs_dir
from tests.images.specs import IMAGES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.images", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build the images that are missing or stale (default: all)")
    build.add_argument("names", nargs="*", metavar="NAME", help=", ".join(IMAGES))
    commands.add_parser("list", help="list the images, whether each is built, and where")
    for verb in ("path", "rootfs", "digest"):
        commands.add_parser(verb, help=f"print an image's {verb}").add_argument("name", choices=list(IMAGES))
    commands.add_parser("rie", help="print the aws-lambda-rie binary's path")
    args = parser.parse_args(argv)

    if args.command == "build":
        started = time.monotonic()
        built = build_all() if not args.names else _build.build(args.names)
        for name, path in built.items():
            print(f"{name:16} {path} ({path.stat().st_size / 1e6:.1f} MB)")
        print(f"[images] ready in {time.monotonic() - started:.2f} s")
    elif args.command == "list":
        for name in IMAGES:
            state = "built" if _build.is_built(name) else "not built"
            print(f"{name:16} {state:10} {_build.archive_path(name)}")
    elif args.command == "path":
        print(image_path(args.name))
    elif args.command == "rootfs":
        print(rootfs_dir(args.name))
    elif args.command == "digest":
        print(image_digest(args.name))
    elif args.command == "rie":
        print(rie_path())
    return 0


if __name__ == "__main__":
    sys.exit(main())
