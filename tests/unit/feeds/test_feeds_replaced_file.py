"""``replaced_on_success``: an output appears whole or not at all, as ``open(out, "wb")`` would
have left it otherwise (its permissions, a symlink written through)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from feeds.replaced_file import replaced_on_success

pytestmark = pytest.mark.unit


def _write(out: Path, text: str) -> None:
    with replaced_on_success(out) as part:
        part.write_text(text)


def test_a_private_output_stays_private(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("before\n")
    out.chmod(0o600)
    _write(out, "after\n")
    assert out.read_text() == "after\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_a_symlinked_output_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "store" / "events.jsonl"
    target.parent.mkdir()
    target.write_text("before\n")
    link = tmp_path / "events.jsonl"
    link.symlink_to(target)
    _write(link, "after\n")
    assert link.is_symlink() and target.read_text() == "after\n"
    assert sorted(os.listdir(target.parent)) == ["events.jsonl"]


def test_a_failed_run_leaves_nothing_beside_the_output(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError), replaced_on_success(out) as part:
        part.write_text("half")
        raise RuntimeError
    assert list(tmp_path.iterdir()) == []
