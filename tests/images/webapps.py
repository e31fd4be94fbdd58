"""Web application images: a Django and a FastAPI app packed with Mangum, their wheels in a layer of their own.

`WebAppSpec` is an `ImageSpec` whose extra layer is a site-packages tree installed from pinned manylinux
cp311 wheels (pip download, then pip install --target), made once per requirement set and cached under
`.cache/images/webapps/`, so the image key covers the app's files and the exact requirements.
"""

from __future__ import annotations

import fcntl
import hashlib
from dataclasses import dataclass
from pathlib import Path

from tests.images import cache, rootfs
from tests.images.specs import RIC, Base, ImageSpec

# Shared by both apps; uvicorn (with httptools and uvloop) serves the Django app directly for bench anchors.
SERVER = ("uvicorn==0.54.0", "httptools==0.7.1", "uvloop==0.22.1")
DJANGO = ("Django==5.2.19", "mangum==0.19.0", *SERVER)
FASTAPI = ("fastapi==0.165.0", "mangum==0.19.0", *SERVER)
WEBAPPS = cache.CACHE / "webapps"
# Django's translations and the admin's static files are most of its size and unused here.
PRUNE = ("django/contrib/admin/static", "django/contrib/admin/locale")


def requirements_dir(requirements: tuple[str, ...]) -> Path:
    """A tree holding `usr/local/lib/python3.11/dist-packages` with the requirements installed (made once)."""
    key = hashlib.sha256("\n".join((*sorted(requirements), *PRUNE)).encode()).hexdigest()[:16]
    target = WEBAPPS / key
    done = WEBAPPS / f"{key}.complete"
    if done.exists():
        return target
    WEBAPPS.mkdir(parents=True, exist_ok=True)
    with (WEBAPPS / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not done.exists():
                scratch = WEBAPPS / f".{key}.tmp"
                cache.remove_tree(scratch)
                for requirement in requirements:
                    rootfs.install_wheels(scratch, requirement)
                site = scratch / rootfs.SITE_PACKAGES
                for relative in PRUNE:
                    cache.remove_tree(site / relative)
                cache.remove_tree(target)
                scratch.rename(target)
                done.write_text("\n".join(requirements) + "\n")
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return target


@dataclass(frozen=True)
class WebAppSpec(ImageSpec):
    """An image whose layers also hold its requirements' site-packages (installed on first use)."""

    requirements: tuple[str, ...] = ()

    def layer_dirs(self) -> list[str]:
        return [*super().layer_dirs(), str(requirements_dir(self.requirements))]


WEB_APPS = (
    # handler = Mangum(Django's ASGI app): forms with CSRF, cookies, redirects, JSON, a binary download
    WebAppSpec("python-django", Base.PYTHON, ("python-django",), RIC, ("app.handler",), requirements=DJANGO),
    # handler = Mangum(FastAPI app)
    WebAppSpec(
        "python-fastapi", Base.PYTHON, ("python-fastapi",), RIC, ("app.handler",), requirements=FASTAPI
    ),
)
# The same Django app served by uvicorn directly, inside the python-django image (bench anchor).
DJANGO_UVICORN = (
    "/usr/bin/python3", "-m", "uvicorn", "--app-dir", "/var/task", "--host", "127.0.0.1", "--port", "8080",
    "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning",
    "djangoapp.asgi:application",
)  # fmt: skip
