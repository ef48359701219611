"""Finding the Python files to lint under the paths a user gives."""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, List, Sequence, Set, Tuple

import pathspec

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


def _excluder(spec: pathspec.GitIgnoreSpec) -> Callable[[str], bool]:
    """``spec.match_file``, made cheaper when no pattern negates (the usual case, and the
    defaults): then a path is excluded exactly when some pattern's expression matches it, which
    skips pathspec's per-call normalization and precedence bookkeeping."""
    patterns = [p for p in spec.patterns if p.include is not None]
    regexes = [getattr(p, "regex", None) for p in patterns]
    if not all(p.include for p in patterns) or not all(isinstance(r, re.Pattern) for r in regexes):
        return spec.match_file
    if os.altsep or os.sep != "/":  # pragma: no cover - Windows: pathspec normalizes separators
        return spec.match_file
    sources = [r.pattern for r in regexes]  # type: ignore[union-attr]
    if not regexes:
        return lambda path: False
    if all(isinstance(source, str) and "(?P=" not in source for source in sources):
        # One expression for all: each pattern's named groups (which only mark a folder match,
        # and would clash) become plain groups; the flags of each stay its own.
        parts = [_NAMED_GROUP.sub("(?:", source) for source in sources]
        try:
            combined = re.compile("|".join(f"(?{_flags(r)}:{part})" if _flags(r) else f"(?:{part})" for r, part in zip(regexes, parts)))
        except re.error:
            pass
        else:
            return lambda path: combined.search(path) is not None
    searches = [r.search for r in regexes]  # type: ignore[union-attr]
    return lambda path: any(search(path) for search in searches)


_NAMED_GROUP = re.compile(r"\(\?P<\w+>")


def _flags(regex: "re.Pattern[str]") -> str:
    """The inline form of the flags ``regex`` was compiled with (beyond the default)."""
    return "".join(letter for flag, letter in ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x")) if regex.flags & flag)


def _prefix(folder: str) -> str:
    """``folder`` with one trailing separator (the root stays as it is)."""
    return folder if folder.endswith(os.sep) else folder + os.sep


def _posix(relative: str) -> str:
    return relative if os.sep == "/" else relative.replace(os.sep, "/")


def _is_symlink(entry: os.DirEntry) -> bool:
    try:
        return entry.is_symlink()
    except OSError:
        return False


def _is_regular(entry: os.DirEntry) -> bool:
    """Whether the entry is a regular file (not a link); known from the folder listing on most
    file systems, so no stat call."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:
        return False


def _walk(top: str, onerror: Callable[[OSError], None]) -> Iterator[Tuple[str, List[os.DirEntry], List[os.DirEntry]]]:
    """`os.walk(top, onerror=onerror, followlinks=False)` top-down, yielding the folders' and
    the files' directory entries instead of their names, so a file's type comes from the
    listing. The caller may prune the folders list in place; linked folders are listed but not
    entered."""
    stack = [top]
    while stack:
        folder = stack.pop()
        dirs: List[os.DirEntry] = []
        files: List[os.DirEntry] = []
        try:
            with os.scandir(folder) as listing:
                for entry in listing:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else files).append(entry)
        except OSError as exc:
            onerror(exc)
            continue
        yield folder, dirs, files
        stack.extend(entry.path for entry in reversed(dirs) if not _is_symlink(entry))


def discover(paths: Sequence[str], config: Config) -> Discovered:
    """Python files under ``paths``, sorted, each once; excluded folders are not entered."""
    result = Discovered()
    seen: Set[str] = set()  # resolved paths, as text (cheaper to hash than `Path`s)
    excluded = _excluder(config.exclude_spec)
    for given in paths:
        path = Path(given)
        if not path.exists() and not path.is_symlink():
            raise UsagePathError(f"path does not exist: {given}")
        if path.is_file() or (path.is_symlink() and not path.is_dir()):
            resolved = _resolve(path)
            if not path.exists():
                result.unreadable.append((given, _link_problem(path)))
            elif path.suffix in PYTHON_SUFFIXES or _is_python_script(path):
                if str(resolved) not in seen:
                    seen.add(str(resolved))
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

        anchor_prefix = _prefix(str(anchor))
        base_prefix = _prefix(str(base))
        for folder, dirs, files in _walk(str(base), onerror):
            rel_folder = _posix(folder[len(anchor_prefix) :]) if folder != str(anchor) else "."
            keep = []
            for d in sorted(dirs, key=lambda entry: entry.name):
                rel = f"{rel_folder}/{d.name}/" if rel_folder != "." else f"{d.name}/"
                if not excluded(rel):
                    keep.append(d)
            dirs[:] = keep
            below_base = folder[len(base_prefix) :] if folder != str(base) else ""
            for entry in sorted(files, key=lambda entry: entry.name):
                name = entry.name
                if not name.endswith(PYTHON_SUFFIXES):
                    continue
                rel = f"{rel_folder}/{name}" if rel_folder != "." else name
                if excluded(rel):
                    continue
                file_path = entry.path
                # The walk starts from a resolved folder and does not follow links, so only a
                # link among the files needs resolving (one lstat instead of one per part).
                link = _is_symlink(entry)
                resolved = os.path.realpath(file_path) if link else file_path
                if resolved in seen:
                    continue
                shown = os.path.normpath(os.path.join(given, below_base, name) if below_base else os.path.join(given, name))
                if link or not _is_regular(entry):
                    try:
                        mode = os.stat(file_path).st_mode
                    except OSError as exc:
                        result.unreadable.append((shown, _link_problem(file_path) if link else exc.strerror or str(exc)))
                        continue
                    if not stat.S_ISREG(mode):
                        # A FIFO, socket or device named like a module: never opened.
                        result.unreadable.append((shown, "not a regular file"))
                        continue
                seen.add(resolved)
                found.append((Path(resolved), shown))
        result.files.extend(sorted(found, key=lambda item: item[1]))
    return result
