"""Shared test helpers: run zmqlint on small trees written to a temporary folder."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

import pytest

from zmqlint.config import Config
from zmqlint.engine import FixMode
from zmqlint.model import Finding
from zmqlint.rule import dedent
from zmqlint.runner import RunResult, run

REPO = Path(__file__).resolve().parent.parent


def write_tree(root: Path, files: Mapping[str, str]) -> None:
    for rel, code in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dedent(code), encoding="utf-8")


def lint_tree(
    root: Path,
    *,
    select: Optional[Iterable[str]] = None,
    options: Optional[Mapping[str, object]] = None,
    fix: FixMode = FixMode.NONE,
    paths: Optional[List[str]] = None,
) -> RunResult:
    config = Config.from_table(dict(options or {}), root=root)
    if select:
        config.with_overrides(select=list(select))
    return run([str(root / p) for p in (paths or ["."])], config, fix_mode=fix)


def findings_of(result: RunResult, code: Optional[str] = None) -> List[Finding]:
    return [f for f in result.findings if code is None or f.code == code]


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def tree(tmp_path: Path):
    """Write files (path -> source, dedented) under a fresh folder and return the folder."""

    def make(files: Mapping[str, str]) -> Path:
        write_tree(tmp_path, files)
        return tmp_path

    return make
