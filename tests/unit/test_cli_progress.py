"""`lambkin image pull`'s display: bars with sizes and rates on a terminal, a line per blob elsewhere."""

from __future__ import annotations

import io

from rich.console import Console

from lambkin.cli.progress import PullDisplay
from lambkin.images.pull import PullProgress

MANIFEST = "sha256:" + "a" * 64
LAYER = "sha256:" + "b" * 64
STORED = "sha256:" + "c" * 64


def pull(display: PullDisplay) -> None:
    with display:
        display(PullProgress(MANIFEST, "manifest"))
        display(PullProgress(STORED, "exists", 10, 10))
        display(PullProgress(LAYER, "downloading", 1_000_000, 3_000_000))
        display(PullProgress(LAYER, "done", 3_000_000, 3_000_000))


def test_outside_a_terminal_each_blob_is_one_unwrapped_line() -> None:
    out = io.StringIO()
    display = PullDisplay(Console(file=out, force_terminal=False, width=40))
    pull(display)
    assert out.getvalue().splitlines() == [
        f"Resolved manifest {MANIFEST}",
        f"Blob {STORED[:19]} already stored",
        f"Copied blob {LAYER[:19]} (3.0 MB)",
    ]
    assert display.total == 3_000_000


def test_on_a_terminal_a_blob_downloads_under_a_bar_with_its_size() -> None:
    out = io.StringIO()
    display = PullDisplay(Console(file=out, force_terminal=True, width=120))
    pull(display)
    shown = out.getvalue()
    assert LAYER[:19] in shown
    assert "3.0/3.0 MB" in shown
    assert f"Copied blob {LAYER[:19]}" not in shown  # the bar says it


def test_quiet_shows_nothing_but_still_counts() -> None:
    out = io.StringIO()
    display = PullDisplay(Console(file=out, force_terminal=True), quiet=True)
    pull(display)
    assert out.getvalue() == ""
    assert display.total == 3_000_000


def test_an_import_s_copying_is_shown_like_a_download() -> None:
    out = io.StringIO()
    display = PullDisplay(Console(file=out, force_terminal=True, width=120))
    with display:
        display(PullProgress(LAYER, "copying", 1_048_576, 2_500_000))
        display(PullProgress(LAYER, "done", 2_500_000, 2_500_000))
    assert "2.5/2.5 MB" in out.getvalue()
    assert display.total == 2_500_000
