"""Shared test helpers: run zmqlint on small trees written to a temporary folder."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Iterable, List, Mapping, Optional

import pytest

from zmqlint.config import Config
from zmqlint.engine import FixMode
from zmqlint.model import Finding
from zmqlint.rule import dedent
from zmqlint.runner import RunResult, run

REPO = Path(__file__).resolve().parent.parent

#: Source using every kind of statement and expression the grammar has (for the walks).
EVERY_SYNTAX = '''
from __future__ import annotations
import os.path as p, sys
from . import (x as y, c)
from .m import *
@deco(1, *a, k=2, **kw)
async def f(a, /, b: int = 1, *c, d, e=2, **g) -> "T":
    global G
    nonlocal_ = lambda q, *, r=3: q
    async with a as (b, c), d:
        async for i in b:
            await i
    x: int = yield from z
    del x[1:2, ::3], y.z
    s = f"{a!r:>{w}} {b=} {c:{d}.{e}}" f'{x}' "plain" r"raw"
    return {**m, 1: 2}, {1, 2}, [*l], (a if b else c), not -a, a @ b, a < b <= c != d
class C(B, metaclass=M):
    def g(self):
        nonlocal y
        try:
            pass
        except (E, F) as err:
            raise X from err
        else:
            pass
        finally:
            assert f"{a!r:>{w}}" and b"x", "m"
        while (n := next(it)) is not None:
            break
        for k in (v for v in w if v for u in v):
            continue
        print({k: v for k, v in w}, [a for a in b], {a for a in b}, a[...], a.b, *c)
        match cmd:
            case [1, *rest] | {"k": v, **kw} if v:
                pass
            case (Point(x=0, y=_) as p) | None | True:
                pass
        x += 1; x **= 2  # comment
        if a: pass
        elif b: pass
        with a: pass
'''


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
