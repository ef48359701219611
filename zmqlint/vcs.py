"""Git questions for ``--changed-since``: which Python files changed since a revision."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Set


class VcsError(Exception):
    """git is missing, the folder is not a repository, or the revision is unknown."""


def _git(args, cwd: Path) -> str:
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    except FileNotFoundError as exc:
        raise VcsError("--changed-since needs git, which is not installed") from exc
    except subprocess.TimeoutExpired as exc:
        raise VcsError("git did not answer within 60 s") from exc
    if proc.returncode != 0:
        raise VcsError(f"git {' '.join(args)}: {proc.stderr.strip() or 'failed'}")
    return proc.stdout


def changed_files(revision: str, cwd: Path) -> Set[Path]:
    """Files changed since ``revision`` (committed, staged, unstaged) plus untracked ones, as
    absolute paths; deleted files are left out."""
    top = Path(_git(["rev-parse", "--show-toplevel"], cwd).strip())
    _git(["rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}"], cwd)
    names = _git(["diff", "--name-only", "--diff-filter=d", revision, "--"], cwd).splitlines()
    names += _git(["ls-files", "--others", "--exclude-standard"], cwd).splitlines()
    return {(top / name).resolve() for name in names if name}
