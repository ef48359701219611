"""Finding the Python files to lint under the paths a user gives."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Sequence, Set, Tuple

from zmqlint.config import Config

PYTHON_SUFFIXES = (".py", ".pyi")


class UsagePathError(Exception):
    """A path the user named does not exist."""


@dataclass
class Discovered:
    #: (absolute path, path as shown to the user)
    files: List[Tuple[Path, str]] = field(default_factory=list)
    #: (path as shown, OS message) for folders or files that could not be read
    unreadable: List[Tuple[str, str]] = field(default_factory=list)
    #: explicit paths skipped, with why
    notes: List[str] = field(default_factory=list)


def _is_python_script(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            first = handle.readline(200)
    except OSError:
        return False
    return first.startswith(b"#!") and b"python" in first


def _resolve(path: Path) -> Path:
    """``path`` made absolute with symbolic links followed; a loop is left unresolved rather
    than raising (as `Path.resolve` does)."""
    return Path(os.path.realpath(path))


def _link_problem(path: Path) -> str:
    """Why a symbolic link cannot be followed (dangling, or a loop)."""
    try:
        os.stat(path)
    except OSError as exc:
        return f"broken symbolic link ({exc.strerror or exc})"
    return "broken symbolic link"


def discover(paths: Sequence[str], config: Config) -> Discovered:
    """Python files under ``paths``, sorted, each once; excluded folders are not entered."""
    result = Discovered()
    seen: Set[Path] = set()
    spec = config.exclude_spec
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            raise UsagePathError(f"path does not exist: {given}")
        if path.is_file() or (path.is_symlink() and not path.is_dir()):
            resolved = _resolve(path)
            if not path.exists():
                result.unreadable.append((given, _link_problem(path)))
            elif path.suffix in PYTHON_SUFFIXES or _is_python_script(path):
                if resolved not in seen:
                    seen.add(resolved)
                    result.files.append((resolved, given))
            else:
                result.notes.append(f"{given}: not a Python file, skipped")
            continue
        if not path.is_dir():
            # A FIFO, socket or device: never opened (reading a FIFO would block).
            result.unreadable.append((given, "not a regular file"))
            continue
        base = _resolve(path)
        # Excludes match paths relative to the project root when the folder is inside it,
        # else relative to the folder itself; the folder the user named is never excluded.
        anchor = config.root if base.is_relative_to(config.root) else base
        found: List[Tuple[Path, str]] = []

        def onerror(exc: OSError) -> None:
            shown = os.path.join(given, os.path.relpath(exc.filename, base)) if exc.filename else given
            result.unreadable.append((os.path.normpath(shown), exc.strerror or str(exc)))

        for folder, dirs, files in os.walk(base, onerror=onerror, followlinks=False):
            folder_path = Path(folder)
            rel_folder = folder_path.relative_to(anchor).as_posix()
            keep = []
            for d in sorted(dirs):
                rel = f"{rel_folder}/{d}/" if rel_folder != "." else f"{d}/"
                if not spec.match_file(rel):
                    keep.append(d)
            dirs[:] = keep
            for name in sorted(files):
                if not name.endswith(PYTHON_SUFFIXES):
                    continue
                file_path = folder_path / name
                rel = f"{rel_folder}/{name}" if rel_folder != "." else name
                if spec.match_file(rel):
                    continue
                # The walk starts from a resolved folder and does not follow links, so only a
                # link among the files needs resolving (one lstat instead of one per part).
                resolved = _resolve(file_path) if os.path.islink(file_path) else file_path
                if resolved in seen:
                    continue
                shown = os.path.normpath(os.path.join(given, file_path.relative_to(base).as_posix()))
                try:
                    mode = os.stat(file_path).st_mode
                except OSError as exc:
                    link = resolved is not file_path
                    result.unreadable.append((shown, _link_problem(file_path) if link else exc.strerror or str(exc)))
                    continue
                if not stat.S_ISREG(mode):
                    # A FIFO, socket or device named like a module: never opened.
                    result.unreadable.append((shown, "not a regular file"))
                    continue
                seen.add(resolved)
                found.append((resolved, shown))
        result.files.extend(sorted(found, key=lambda item: item[1]))
    return result
