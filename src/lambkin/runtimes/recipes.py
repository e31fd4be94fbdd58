"""What each managed runtime is made of: its Debian suite and packages, its runtime interface client, its env."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

TASK_ROOT = "/var/task"
RUNTIME_DIR = "/var/runtime"
BOOTSTRAP = f"{RUNTIME_DIR}/bootstrap"  # every runtime image's entrypoint
AWSLAMBDARIC = "awslambdaric==4.2.2"
# The AWS SDK Lambda's Python runtimes include in /var/runtime (a function may import it without shipping it;
# its own copy, in the package or a layer, comes first on sys.path).
BOTO3 = "boto3==1.44.18"
AWS_LAMBDA_RIC = "aws-lambda-ric@3.3.0"  # 4.x needs Node.js 22, newer than Debian's
# What builds its addon: it pins node-gyp 9.4.0, whose gyp imports distutils, which Python 3.12 dropped.
NODE_GYP = "node-gyp@10.3.1"
# The AWS SDK for JavaScript v3 Lambda's Node.js runtimes include in /var/runtime/node_modules (a function
# may require or import it without shipping it; its own copy, in the package or a layer, comes first): one
# release for every client, the last whose packages still run on Node.js 18 (engines ">=18.0.0"; 3.968.0
# wants 20). The clients of the services lambkin serves, and the commonly used ones reached through the
# network policy.
AWS_SDK_VERSION = "3.967.0"
AWS_SDK = tuple(
    f"@aws-sdk/{name}@{AWS_SDK_VERSION}"
    for name in (
        "client-lambda", "client-sqs", "client-sts", "client-iam", "client-cloudwatch-logs",
        "client-eventbridge", "client-scheduler", "client-apigatewayv2", "client-cloudwatch",
        "client-s3", "client-dynamodb", "lib-dynamodb", "client-sns", "client-ssm", "client-secrets-manager",
    )
)  # fmt: skip
# Their dependencies (@smithy/*, ...) as the registry had them then (npm --before), not as it has them today:
# so the recipe decides them too, and a later release that drops Node.js 18 is never picked.
AWS_SDK_BEFORE = "2026-04-10T00:00:00Z"
# What compiling aws-lambda-ric needs (its curl and aws-lambda-cpp from source, then its node-gyp addon
# against Debian's node headers): a builder tree of the runtime's suite has them, the runtime does not.
NODE_BUILDER_PACKAGES = (
    "nodejs", "libnode-dev", "g++", "make", "cmake", "autoconf", "automake", "libtool", "python3",
)  # fmt: skip
PATH = "/usr/local/bin:/usr/bin:/bin:/opt/bin"
LD_LIBRARY_PATH = "/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"


class Language(enum.Enum):
    PYTHON = "python"
    NODE = "nodejs"
    PROVIDED = "provided"


@dataclass(frozen=True)
class Recipe:
    """One runtime: `version` is the language version Debian's `suite` really ships (checked at build)."""

    name: str  # Lambda's runtime identifier
    language: Language
    suite: str  # Debian release
    packages: tuple[str, ...]  # debootstrap --include, beside minbase
    version: str = ""  # python X.Y or node major; none for provided
    extra: dict[str, str] = field(default_factory=dict)

    def environment(self) -> dict[str, str]:
        """The variables Lambda's runtime sets for every function on it (the image's config carries them)."""
        env = {
            "PATH": PATH,
            "LD_LIBRARY_PATH": LD_LIBRARY_PATH,
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": TASK_ROOT,
            "LAMBDA_RUNTIME_DIR": RUNTIME_DIR,
        }
        if self.language is not Language.PROVIDED:
            env["AWS_EXECUTION_ENV"] = f"AWS_Lambda_{self.name}"
        if self.language is Language.PYTHON:
            # Lambda's sys.path order: the function (`python -m` in the task root puts it first), its
            # layers, then the runtime
            env["PYTHONPATH"] = ":".join(
                (f"/opt/python/lib/python{self.version}/site-packages", "/opt/python", RUNTIME_DIR)
            )
        if self.language is Language.NODE:
            env["NODE_PATH"] = ":".join(
                (
                    f"/opt/nodejs/node{self.version}/node_modules",
                    "/opt/nodejs/node_modules",
                    f"{RUNTIME_DIR}/node_modules",
                    RUNTIME_DIR,
                    TASK_ROOT,
                )
            )
        return env


RECIPES: dict[str, Recipe] = {
    recipe.name: recipe
    for recipe in (
        Recipe("python3.11", Language.PYTHON, "bookworm", ("python3.11",), "3.11"),
        Recipe("python3.13", Language.PYTHON, "trixie", ("python3.13",), "3.13"),
        # ca-certificates: Debian's node loads /etc/ssl/certs/ca-certificates.crt at start (a warning on
        # every cold start without it), and HTTPS calls from functions need it
        Recipe("nodejs18.x", Language.NODE, "bookworm", ("nodejs", "ca-certificates"), "18"),
        Recipe("nodejs20.x", Language.NODE, "trixie", ("nodejs", "ca-certificates"), "20"),
        Recipe("provided.al2023", Language.PROVIDED, "trixie", ("curl",)),
        Recipe("provided.al2", Language.PROVIDED, "bookworm", ("curl",)),
    )
}

# Identifiers Lambda no longer accepts for creating or updating functions.
DEPRECATED = frozenset(
    {
        "nodejs", "nodejs4.3", "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x",
        "nodejs14.x", "nodejs16.x",
        "python2.7", "python3.6", "python3.7", "python3.8",
        "java8", "dotnetcore1.0", "dotnetcore2.0", "dotnetcore2.1", "dotnetcore3.1", "dotnet5.0", "dotnet6",
        "ruby2.5", "ruby2.7", "go1.x", "provided",
    }
)  # fmt: skip


def deprecated_message(name: str) -> str:
    """Lambda's InvalidParameterValueException text for a deprecated runtime."""
    return (
        f"The runtime parameter of {name} is no longer supported for creating or updating AWS Lambda "
        "functions. We recommend you use a supported runtime while creating or updating functions."
    )
