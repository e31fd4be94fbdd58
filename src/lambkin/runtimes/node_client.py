"""aws-lambda-ric and the AWS SDK for a Node.js runtime: fetched from npm, the client compiled in a builder
tree of the runtime's suite.

The client compiles native code when installed (its bundled curl and aws-lambda-cpp, then a node-gyp addon
against the node headers), so it is built in a tree of the runtime's own Debian suite that has compilers
(NODE_BUILDER_PACKAGES): the same node major, the same C library. The host's npm only fetches the packages
(`--ignore-scripts`: nothing of theirs runs on the host); their install steps run chrooted in the builder
tree as nobody, without network, in mount and pid namespaces of their own whose /proc goes when they end.
Only the client itself (its `package.json`, `bin/`, `dist/` with the compiled addon, its licences) goes
into the runtime's /var/runtime/node_modules, so the runtime image has no compiler, no node-gyp and no sources.

The AWS SDK for JavaScript v3 (recipes.AWS_SDK) is plain JavaScript: the host's npm fetches it (scripts not
run), once for every Node.js runtime, and it goes into the same /var/runtime/node_modules without its
TypeScript declarations, as Lambda's Node.js runtimes carry it. NODE_PATH finds it for `require`; for
`import`, which ignores NODE_PATH, the runtime's entry registers a resolve hook (nodejs-node-path.mjs) that
searches NODE_PATH's node_modules folders as Lambda's Node.js runtimes do since nodejs18.x.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import replace
from pathlib import Path

from lambkin.runtimes.recipes import (
    AWS_LAMBDA_RIC,
    AWS_SDK,
    AWS_SDK_BEFORE,
    NODE_BUILDER_PACKAGES,
    NODE_GYP,
    RUNTIME_DIR,
    Language,
    Recipe,
)
from lambkin.runtimes.rootfs import BOOTSTRAPS, BuildFailed, Log, readable, remove_tree, run

CLIENT = AWS_LAMBDA_RIC.split("@")[0]
SHIPPED = ("package.json", "bin", "dist", "LICENSE", "NOTICE", "THIRD-PARTY-LICENSES")
ADDON = "dist/rapid-client.node"
BUILD_DIR = "build-aws-lambda-ric"  # inside the builder tree, removed after each compile
SDK_UNSHIPPED = "dist-types"  # each SDK package's TypeScript declarations: nothing loads them at run time
NODE_PATH_HOOK = "node-path.mjs"  # in /var/runtime, from bootstraps/nodejs-node-path.mjs
BUILD_USER = "65534:65534"  # nobody: the packages' build steps get no root, in the tree or out of it
# The client's own install steps (package.json: preinstall, then node-gyp's build, then postinstall's copy),
# run in the builder tree; node-gyp (NODE_GYP, fetched beside the client, not the one it pins) takes Debian's
# headers (libnode-dev) instead of downloading them.
COMPILE = f"""set -e
export HOME=/tmp PATH=/usr/local/bin:/usr/bin:/bin JOBS=2 MAKEFLAGS=-j2
cd /{BUILD_DIR}/node_modules/{CLIENT}
sh ./scripts/preinstall.sh
node /{BUILD_DIR}/node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=/usr
mkdir -p dist
cp build/Release/rapid-client.node dist/
"""


def builder_recipe(recipe: Recipe) -> Recipe:
    """The tree aws-lambda-ric is compiled in: the runtime's suite with a compiler and node's headers."""
    if recipe.language is not Language.NODE:
        raise BuildFailed(f"{recipe.name}: only Node.js runtimes compile {CLIENT}")
    return replace(recipe, name=f"{recipe.name}-builder", packages=NODE_BUILDER_PACKAGES)


def client_key(builder_tree: Path) -> str:
    """What decides the compiled client: its version, the compile steps, and the builder tree's packages."""
    status = (builder_tree / "var/lib/dpkg/status").read_bytes()
    return hashlib.sha256(
        json.dumps([AWS_LAMBDA_RIC, NODE_GYP, BUILD_USER, COMPILE]).encode() + status
    ).hexdigest()[:16]


def compiled_client(recipe: Recipe, builder_tree: Path, cache: Path, work: Path, log: Log) -> Path:
    """The client's directory compiled for `recipe`'s node (kept under `cache`, keyed by client_key)."""
    target = cache / f"{recipe.name}-{client_key(builder_tree)}"
    if (target / ADDON).is_file():
        return target
    staged = work / "npm"
    remove_tree(staged)
    staged.mkdir(parents=True)
    log(f"npm: {AWS_LAMBDA_RIC} and {NODE_GYP}, their scripts not run")
    npm_install(staged, (AWS_LAMBDA_RIC, NODE_GYP), work / "npm.log")
    inside = builder_tree / BUILD_DIR
    remove_tree(inside)
    try:
        shutil.copytree(staged, inside, symlinks=True)
        log(f"{recipe.name}: compiling {AWS_LAMBDA_RIC} (curl, aws-lambda-cpp, its addon) as nobody, offline")
        run("chown", "-R", BUILD_USER, inside)
        chrooted(builder_tree, COMPILE, log_to=work / "compile.log", user=BUILD_USER)
        built = inside / "node_modules" / CLIENT
        scratch = work / "client"
        remove_tree(scratch)
        scratch.mkdir()
        for name in SHIPPED:
            if (built / name).is_dir():
                shutil.copytree(built / name, scratch / name, symlinks=True)
            elif (built / name).is_file():
                shutil.copy2(built / name, scratch / name)
    finally:
        remove_tree(inside)
    remove_tree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch.rename(target)
    for stale in cache.glob(f"{recipe.name}-*"):
        if stale != target:
            remove_tree(stale)
    return target


def npm_install(prefix: Path, packages: tuple[str, ...], log_to: Path, *options: str) -> None:
    """`packages` fetched by the host's npm into `prefix`/node_modules: none of their scripts run, no lock
    file is written, nothing is audited."""
    npm = shutil.which("npm")
    if npm is None:
        raise BuildFailed(f"npm is needed to fetch {', '.join(packages)} (scripts/setup-system.sh)")
    run(
        npm, "install", "--ignore-scripts", "--omit=dev", "--no-package-lock", "--no-audit", "--no-fund",
        "--no-update-notifier", *options, "--prefix", prefix, *packages, log_to=log_to,
    )  # fmt: skip


def sdk_key() -> str:
    """What decides the SDK's tree: its packages' versions, the date their dependencies are resolved at, and
    what is left out."""
    return hashlib.sha256(json.dumps([AWS_SDK, AWS_SDK_BEFORE, SDK_UNSHIPPED]).encode()).hexdigest()[:16]


def fetched_sdk(cache: Path, work: Path, log: Log) -> Path:
    """The AWS SDK's node_modules (kept under `cache`, keyed by sdk_key, shared by every Node.js runtime)."""
    target = cache / f"aws-sdk-{sdk_key()}"
    if (target / "@aws-sdk").is_dir():
        return target
    staged = work / "npm-aws-sdk"
    remove_tree(staged)
    staged.mkdir(parents=True)
    log(f"npm: the AWS SDK for JavaScript {AWS_SDK[0].rsplit('@', 1)[1]}, {len(AWS_SDK)} packages")
    npm_install(staged, AWS_SDK, work / "npm-aws-sdk.log", f"--before={AWS_SDK_BEFORE}")
    modules = staged / "node_modules"
    for declarations in list(modules.rglob(SDK_UNSHIPPED)):
        remove_tree(declarations)
    for bookkeeping in (".package-lock.json", ".bin"):
        remove_tree(modules / bookkeeping)
    remove_tree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    modules.rename(target)
    for stale in cache.glob("aws-sdk-*"):
        if stale != target:
            remove_tree(stale)
    return target


def install(client: Path, sdk: Path, root: Path) -> None:
    """The compiled client and the AWS SDK into the runtime tree's /var/runtime/node_modules, the entry the
    bootstrap runs (/var/runtime/index.mjs) and its NODE_PATH hook, readable by the sandbox's user."""
    runtime_dir = root / RUNTIME_DIR.lstrip("/")
    modules = runtime_dir / "node_modules"
    remove_tree(modules)
    shutil.copytree(sdk, modules, symlinks=True)
    shutil.copytree(client, modules / CLIENT, symlinks=True)
    for source, name in (("nodejs-index.mjs", "index.mjs"), ("nodejs-node-path.mjs", NODE_PATH_HOOK)):
        shutil.copyfile(BOOTSTRAPS / source, runtime_dir / name)
        (runtime_dir / name).chmod(0o644)
    readable(modules)


def check_loads(recipe: Recipe, root: Path) -> None:
    """Refuses a runtime tree whose node cannot load the client's addon (a wrong ABI or a missing library),
    or one of the SDK's packages (one written for a newer node than the runtime's).
    The addon reads AWS_LAMBDA_RUNTIME_API when loaded (and aborts without it); it connects to nothing yet."""
    modules = f"{RUNTIME_DIR}/node_modules"
    packages = [
        f"{modules}/{CLIENT}/{ADDON}",
        *(f"{modules}/{package.rsplit('@', 1)[0]}" for package in AWS_SDK),
    ]
    loads = f"for (const p of {json.dumps(packages)}) require(p)"
    script = f"AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 exec /usr/bin/node -e '{loads}'"
    try:
        chrooted(root, script)
    except BuildFailed as exc:
        raise BuildFailed(
            f"{recipe.name}: the runtime's node cannot load {CLIENT} or the AWS SDK: {exc}"
        ) from exc


def chrooted(root: Path, script: str, log_to: Path | None = None, user: str = "0:0") -> None:
    """`script` (sh) run chrooted in `root` as `user` (uid:gid), in new mount, pid and network namespaces
    (a fresh /proc, no network: nothing is fetched there)."""
    (root / "proc").mkdir(exist_ok=True)
    inner = 'mount -t proc proc "$1/proc" && exec chroot --userspec="$3" "$1" /bin/sh -c "$2"'
    env_free = ["env", "-i", f"PATH={os.environ.get('PATH', '/usr/bin:/bin')}"]
    namespaces = ["unshare", "--mount", "--pid", "--net", "--fork"]
    run(*env_free, *namespaces, "sh", "-c", inner, "sh", root, script, user, log_to=log_to)
