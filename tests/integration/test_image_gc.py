"""`lambkin image gc`: once an image is deleted from the registry (here by `skopeo delete`), its blobs go."""

from __future__ import annotations

from pathlib import Path

from tests.harness import ACCESS_KEY_ID, SECRET_ACCESS_KEY, LambkinServer
from tests.integration.image_tools import busybox_layout, lambkin, run, skopeo_copy

CREDS = f"{ACCESS_KEY_ID}:{SECRET_ACCESS_KEY}"


def blob_files(data_dir: Path) -> set[str]:
    return {path.name for path in (data_dir / "blobs").rglob("*") if path.is_file() and len(path.name) == 64}


def test_blobs_of_a_deleted_image_are_collected_and_a_kept_image_survives(tmp_path: Path) -> None:
    layout = busybox_layout(tmp_path)
    data = tmp_path / "data"
    server = LambkinServer(data).start()
    try:
        skopeo_copy(f"oci:{layout}:busybox:v1", f"docker://{server.registry}/kept:v1", "--dest-creds", CREDS)
        before = blob_files(data)
        skopeo_copy(
            f"oci:{layout}:busybox-arm:v1", f"docker://{server.registry}/doomed:v1", "--dest-creds", CREDS
        )
        only_doomed = blob_files(data) - before
        assert only_doomed  # the arm image's config and manifest are its own
        run(
            "skopeo",
            "delete",
            "--tls-verify=false",
            "--creds",
            CREDS,
            f"docker://{server.registry}/doomed:v1",
        )
    finally:
        server.stop()

    url = server.extra_env.get("LAMBKIN_DATABASE_URL")  # the catalog is on PostgreSQL in that run
    database = ["--database", url] if url else []
    dry = lambkin("image", "gc", "--grace", "0", "--dry-run", "--data-dir", data, *database)
    assert dry.returncode == 0, dry.stderr
    assert "Would delete" in dry.stdout and blob_files(data) >= only_doomed

    done = lambkin("image", "gc", "--grace", "0", "--data-dir", data, *database)
    assert done.returncode == 0, done.stderr
    assert not blob_files(data) & only_doomed, done.stdout
    assert blob_files(data) == before  # everything the kept image needs is still there

    again = LambkinServer(data, env=server.extra_env).start()
    try:
        run("skopeo", "inspect", "--tls-verify=false", "--creds", CREDS, f"docker://{again.registry}/kept:v1")
        copied = tmp_path / "copied"
        skopeo_copy(f"docker://{again.registry}/kept:v1", f"oci:{copied}:kept", "--src-creds", CREDS)
    finally:
        again.stop()
