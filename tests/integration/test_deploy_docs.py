"""docs/deploy.md works as written, as far as this machine can tell: its systemd unit passes `systemd-analyze
verify`, its HAProxy config `haproxy -c`, its Kubernetes manifest holds what kubectl needs of each object,
and its environment file sets only variables lambkin reads."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "deploy.md"
UNIT = "/etc/systemd/system/lambkin@.service"
ENV_FILE = "/etc/lambkin/node-1.env"
HAPROXY_CFG = "/etc/haproxy/haproxy.cfg"
MANIFEST = "lambkin-daemonset.yaml"


def files() -> dict[str, str]:
    """The page's files: each fenced block whose first line is `# <path>`, by that path."""
    found = {}
    for block in re.findall(r"^```[a-z]*\n(.*?)^```", PAGE.read_text(), flags=re.M | re.S):
        first, _, rest = block.partition("\n")
        if first.startswith("# ") and " " not in first[2:]:
            found[first[2:]] = rest
    return found


def test_the_page_holds_each_file_it_names() -> None:
    assert {UNIT, ENV_FILE, HAPROXY_CFG, MANIFEST} <= set(files())


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="needs systemd-analyze")
def test_the_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    lambkin = (
        Path(sys.executable).parent / "lambkin"
    )  # this environment's, where the page installs /opt/lambkin
    unit = files()[UNIT].replace("/opt/lambkin/bin/lambkin", str(lambkin))
    (tmp_path / "lambkin@.service").write_text(unit)
    done = subprocess.run(
        ["systemd-analyze", "verify", str(tmp_path / "lambkin@node-1.service")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs haproxy (make setup)")
def test_the_haproxy_config_passes_haproxy_check(tmp_path: Path) -> None:
    config = tmp_path / "haproxy.cfg"
    # the stats socket's directory is made by Debian's unit; here, a temporary one
    config.write_text(files()[HAPROXY_CFG].replace("/run/haproxy/", f"{tmp_path}/"))
    done = subprocess.run(["haproxy", "-c", "-f", str(config)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Configuration file is valid" in done.stdout


def test_the_environment_file_sets_only_variables_lambkin_reads() -> None:
    read = set(re.findall(r"LAMBKIN_[A-Z0-9_]+", (REPO / "src" / "lambkin" / "config.py").read_text()))
    names = {line.split("=", 1)[0] for line in files()[ENV_FILE].splitlines() if "=" in line}
    assert names and names <= read, names - read


def objects() -> dict[str, dict[str, Any]]:
    return {document["kind"]: document for document in yaml.safe_load_all(files()[MANIFEST])}


def test_every_object_of_the_manifest_has_what_kubectl_needs() -> None:
    for kind, document in objects().items():
        assert set(document) >= {"apiVersion", "kind", "metadata"}, kind
        assert document["metadata"]["name"], kind
        if kind != "Namespace":
            assert document["metadata"]["namespace"] == "lambkin", kind
    assert objects()["DaemonSet"]["apiVersion"] == "apps/v1"


def test_the_daemonset_runs_one_privileged_node_a_host_with_its_data_on_the_host() -> None:
    spec = objects()["DaemonSet"]["spec"]
    template = spec["template"]
    labels = template["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= labels.items()
    (container,) = template["spec"]["containers"]
    assert container["name"] and container["image"]
    assert container["securityContext"]["privileged"] is True
    volumes = {volume["name"]: volume for volume in template["spec"]["volumes"]}
    mounts = {mount["mountPath"]: mount["name"] for mount in container["volumeMounts"]}
    assert volumes[mounts["/var/lib/lambkin"]]["hostPath"]["path"] == "/var/lib/lambkin"
    assert container["command"][container["command"].index("--data-dir") + 1] == "/var/lib/lambkin"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert "livenessProbe" not in container  # a draining node answers 503 on purpose
    assert template["spec"]["terminationGracePeriodSeconds"] > 30 + 10  # the drain's bound, uvicorn's 10 s
    env = {item["name"]: item for item in container["env"]}
    assert env["LAMBKIN_NODE_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName"
    assert (
        env["LAMBKIN_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"]
        == objects()["Secret"]["metadata"]["name"]
    )
    for name in ("LAMBKIN_ADVERTISE", "LAMBKIN_ACCESS_KEY_ID", "LAMBKIN_SECRET_ACCESS_KEY"):
        assert name in env


def test_postgresql_is_an_external_service_and_the_nodes_are_served_by_readiness() -> None:
    services = [d for d in yaml.safe_load_all(files()[MANIFEST]) if d["kind"] == "Service"]
    external = next(s for s in services if s["spec"].get("type") == "ExternalName")
    assert external["spec"]["externalName"]
    url = objects()["Secret"]["stringData"]["database-url"]
    assert f"@{external['metadata']['name']}.lambkin.svc.cluster.local:5432/" in url
    front = next(s for s in services if s["spec"].get("selector"))
    assert (
        front["spec"]["selector"].items()
        <= objects()["DaemonSet"]["spec"]["template"]["metadata"]["labels"].items()
    )
