"""scripts/setup refuses a Python older than 3.11 in one line, before touching .venv."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_setup_refuses_an_old_python(tmp_path: Path) -> None:
    old = tmp_path / "python3.9"
    # Answers the script's two questions as a Python 3.9 would.
    old.write_text('#!/bin/sh\ncase "$2" in *exit*) exit 1;; *) echo 3.9;; esac\n')
    old.chmod(0o755)
    done = subprocess.run(
        [str(ROOT / "scripts" / "setup")],
        env={"PATH": "/usr/bin:/bin", "PYTHON": str(old)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.strip() == (
        f"Examinator needs Python 3.11 or newer; {old} is 3.9 (set PYTHON=python3.11)."
    )
