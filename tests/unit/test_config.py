"""The LAMBKIN_* variables, read in config.py only: the server's Settings and the command's defaults."""

from __future__ import annotations

import os
from pathlib import Path

from lambkin.config import command_defaults, settings_from_environment
from lambkin.credentials import Credentials


def test_the_servers_variables_become_settings(tmp_path: Path) -> None:
    env = {
        "LAMBKIN_ACCESS_KEY_ID": "AKIDENV",
        "LAMBKIN_SECRET_ACCESS_KEY": "env-secret",
        "LAMBKIN_REGION": "eu-west-1",
        "LAMBKIN_ROUTES": str(tmp_path / "elsewhere.json"),
        "LAMBKIN_BUSY_POLL_US": "0",
        "LAMBKIN_MAX_PARALLEL_STARTS": "3",
        "LAMBKIN_ASYNC_CONCURRENCY": "0",
        "LAMBKIN_SANDBOX_INIT": "",
        "LAMBKIN_HEADER_LINE_LIMIT": "1024",
        "LAMBKIN_HEAD_LIMIT": "4096",
        "LAMBKIN_HEAD_DEADLINE": "5",
        "LAMBKIN_IMAGE_MAX_SIZE": "1000000",
        "LAMBKIN_IMAGE_MAX_FILES": "50",
        "LAMBKIN_SANDBOX_ENDPOINT_CONNECTIONS": "8",
        "LAMBKIN_SANDBOX_PIDS_MAX": "500",
    }
    settings, generated = settings_from_environment(tmp_path, "0.0.0.0", 9100, env)
    assert not generated and settings.credentials == Credentials("AKIDENV", "env-secret")
    assert (settings.region, settings.account_id) == ("eu-west-1", "000000000000")
    assert settings.routes_path == tmp_path / "elsewhere.json"
    assert (settings.busy_poll_us, settings.max_parallel_starts) == (0, 3)
    assert (settings.async_concurrency, settings.async_retry_scale) == (0, 1.0)
    assert settings.sandbox_init == ""  # no init at all, as opposed to None: look for the host's tini
    assert (settings.header_line_limit, settings.head_limit, settings.head_deadline_s) == (1024, 4096, 5.0)
    assert (settings.image_max_bytes, settings.image_max_files) == (1_000_000, 50)
    assert (settings.sandbox_endpoint_connections, settings.sandbox_pids_max) == (8, 500)


def test_unset_variables_leave_the_defaults(tmp_path: Path) -> None:
    settings, generated = settings_from_environment(tmp_path, "127.0.0.1", 9000, {})
    assert generated and (tmp_path / "credentials.json").exists()
    assert settings.routes_path == tmp_path / "routes.json"
    assert (settings.idle_timeout_s, settings.freeze_after_s, settings.busy_poll_us) == (300, 0.5, 1000)
    assert settings.sandbox_init is None
    assert (settings.header_line_limit, settings.head_limit, settings.head_deadline_s) == (16384, 65536, 30.0)
    assert (settings.image_max_bytes, settings.image_max_files) == (10 << 30, 1_000_000)  # Lambda's 10 GiB
    assert settings.max_parallel_starts == (os.cpu_count() or 1)  # one init at a time per core
    assert settings.sandbox_endpoint_connections == 64
    pid_space = min(int(Path("/proc/sys/kernel", name).read_text()) for name in ("pid_max", "threads-max"))
    assert settings.sandbox_pids_max == pid_space // 2  # the other half stays the host's


def test_the_commands_defaults() -> None:
    defaults = command_defaults({"LAMBKIN_PORT": "9100", "LAMBKIN_ACCESS_KEY_ID": "AKID"})
    assert (defaults.data_dir, defaults.port, defaults.endpoint) == (Path("lambkin-data"), "9100", None)
    assert defaults.access_key is None  # the secret is missing: the saved pair is used instead


def test_the_registrys_other_names(tmp_path: Path) -> None:
    env = {"LAMBKIN_REGISTRY_NAMES": "lb.example:5000, registry.internal:443"}
    settings, _ = settings_from_environment(tmp_path, "0.0.0.0", 9100, env)
    assert settings.registry_names == ("lb.example:5000", "registry.internal:443")
    assert settings_from_environment(tmp_path, "0.0.0.0", 9100, {})[0].registry_names == ()
