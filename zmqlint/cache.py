"""The result cache: a file's findings, reused while nothing they were computed from changed.

An entry holds one file's findings together with the content hash of the file and of every
file the project index read to produce them (`FileResult.dependencies`: the module that
defines a base class, the one whose `start` is or is not async, ...). A run reuses an entry
only when all of those hashes still hold, so editing `transport/server.py` re-checks every
module whose findings looked into it.

Entries live in one JSON file per *run key*: the zmqlint version, the effective configuration
(`Config.fingerprint()`), the Python version and a stamp of zmqlint's and LibCST's own code
(so editing a rule in a development checkout invalidates what it found before). The file is
`.zmqlint_cache/results-<key>.json` beside the configuration (`Config.root`, or the `cache-dir`
setting). Content hashes are recomputed only for files whose size, modification time or
inode changed, as git does for its index; a file modified within two seconds of the last save
is always re-hashed, since its modification time cannot tell two edits in that window apart.

Writes are atomic (a temporary file renamed over the old one) and merge with whatever another
run saved in the meantime; a cache that cannot be read, parsed or written is ignored, never an
error.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Union

from zmqlint import __version__
from zmqlint.model import FileResult, Finding

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.config import Config

SCHEMA = 1
DEFAULT_FOLDER = ".zmqlint_cache"
#: Key files kept in the folder (one per configuration recently used); older ones are removed.
KEEP_KEYS = 8
#: A file modified this close to the last save is re-hashed even if its stat looks unchanged.
RACY_NS = 2_000_000_000

_MISSING = "-"  # the hash of a file that does not exist (a dependency that was deleted)


def cache_folder(config: "Config") -> Path:
    """Where ``config``'s cache lives: `cache-dir` (relative to the project root) or the default."""
    return (config.root / (config.cache_dir or DEFAULT_FOLDER)).resolve()


def content_hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def code_stamp() -> str:
    """Sizes and modification times of zmqlint's own modules and LibCST's package marker."""
    import importlib.util

    parts: List[str] = [sys.version.split()[0]]
    here = Path(__file__).resolve().parent
    for folder, dirs, files in os.walk(here):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(".py"):
                st = os.stat(os.path.join(folder, name))
                parts.append(f"{os.path.relpath(os.path.join(folder, name), here)}:{st.st_size}:{st.st_mtime_ns}")
    spec = importlib.util.find_spec("libcst")
    if spec is not None and spec.origin:
        st = os.stat(spec.origin)
        parts.append(f"libcst:{st.st_size}:{st.st_mtime_ns}")
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=8).hexdigest()


def run_key(config: "Config") -> str:
    payload = f"{SCHEMA}|{__version__}|{config.fingerprint()}|{code_stamp()}"
    return hashlib.blake2b(payload.encode(), digest_size=8).hexdigest()


class ResultCache:
    """Per-file results of one configuration, loaded once per run and saved at its end."""

    def __init__(self, folder: Path, key: str) -> None:
        self.folder = Path(folder)
        self.key = key
        self.file = self.folder / f"results-{key}.json"
        self._saved_ns = 0
        #: path -> [mtime_ns, size, inode, hash]
        self._stamps: Dict[str, list] = {}
        #: path -> {"hash", "deps", "findings", "notes"}
        self._results: Dict[str, dict] = {}
        #: Hashes computed (or confirmed) during this run.
        self._current: Dict[str, str] = {}
        self._new_results: Dict[str, dict] = {}
        self._new_stamps: Dict[str, list] = {}
        self._loaded_mtime: Optional[int] = None

    @classmethod
    def for_config(cls, config: "Config") -> "ResultCache":
        cache = cls(cache_folder(config), run_key(config))
        cache.load()
        return cache

    # -- reading ---------------------------------------------------------------------------

    def load(self) -> None:
        data = self._read()
        if data is None:
            return
        self._saved_ns = data["saved_ns"]
        self._stamps = data["stamps"]
        self._results = data["results"]

    def _read(self) -> Optional[dict]:
        try:
            st = os.stat(self.file)
            with open(self.file, "rb") as handle:
                data = json.loads(handle.read())
            self._loaded_mtime = st.st_mtime_ns
        except (OSError, ValueError):
            return None
        if (
            not isinstance(data, dict)
            or data.get("schema") != SCHEMA
            or data.get("key") != self.key
            or not isinstance(data.get("saved_ns"), int)
            or not isinstance(data.get("stamps"), dict)
            or not isinstance(data.get("results"), dict)
        ):
            return None
        return data

    def current_hash(self, path: Union[Path, str], st: Optional[os.stat_result] = None) -> str:
        """The content hash of ``path`` now (from its stat when that is trustworthy)."""
        key = str(path)
        known = self._current.get(key)
        if known is not None:
            return known
        try:
            st = st or os.stat(path)
        except OSError:
            self._current[key] = _MISSING
            return _MISSING
        stamp = self._stamps.get(key)
        digest = None
        if (
            isinstance(stamp, list)
            and len(stamp) == 4
            and stamp[:3] == [st.st_mtime_ns, st.st_size, st.st_ino]
            and st.st_mtime_ns < self._saved_ns - RACY_NS
        ):
            digest = stamp[3]
        if not isinstance(digest, str):
            try:
                with open(path, "rb") as handle:
                    digest = content_hash(handle.read())
            except OSError:
                digest = _MISSING
            if digest != _MISSING:
                self._new_stamps[key] = [st.st_mtime_ns, st.st_size, st.st_ino, digest]
        self._current[key] = digest
        return digest

    def lookup(self, path: Path, display_path: str) -> Optional[FileResult]:
        """The cached result for ``path``, if the file and all it depends on are unchanged."""
        digest = self.current_hash(path)  # also what `store` records for a file checked now
        entry = self._results.get(str(path))
        if not isinstance(entry, dict):
            return None
        try:
            if entry["hash"] != digest:
                return None
            deps: Dict[str, str] = entry["deps"]
            for dep, digest in deps.items():
                if self.current_hash(dep) != digest:
                    return None
            findings = [Finding.from_json({**f, "path": display_path}) for f in entry["findings"]]
            notes = [str(n) for n in entry["notes"]]
        except (KeyError, TypeError, ValueError, AttributeError):
            return None  # an entry of another shape: treat as absent
        return FileResult(
            path=path,
            display_path=display_path,
            findings=findings,
            notes=notes,
            dependencies={path},  # a cached result is not stored again: its entry stays as it is
        )

    # -- writing ---------------------------------------------------------------------------

    def store(self, result: FileResult) -> None:
        """Record ``result`` (a file linted in this run) unless it cannot be reused as is."""
        if result.errors or result.fixed_text is not None:
            return  # internal errors are retried; a fixed file's findings are not its content's
        key = str(result.path)
        digest = self._current.get(key)
        if digest is None or digest == _MISSING:
            return  # not hashed before linting: the content linted is unknown
        deps = {}
        for dep in sorted(result.dependencies):
            if dep != result.path:
                deps[str(dep)] = self.current_hash(dep)
        findings = []
        for finding in result.findings:
            data = finding.to_json()
            data.pop("path")
            findings.append(data)
        self._new_results[key] = {"hash": digest, "deps": deps, "findings": findings, "notes": list(result.notes)}

    def save(self) -> None:
        """Write this run's entries, merged with the file as it is on disk now."""
        if not self._new_results and not self._new_stamps:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _mark_folder(self.folder)
            stamps, results = self._stamps, self._results
            try:
                changed = os.stat(self.file).st_mtime_ns != self._loaded_mtime
            except OSError:
                changed = False
            if changed:  # another run saved since we loaded: keep its entries too
                data = self._read() or {"stamps": {}, "results": {}}
                stamps, results = data["stamps"], data["results"]
            stamps.update(self._new_stamps)
            results.update(self._new_results)
            payload = {
                "schema": SCHEMA,
                "key": self.key,
                "version": __version__,
                "saved_ns": time.time_ns(),
                "stamps": stamps,
                "results": results,
            }
            _atomic_write(self.file, json.dumps(payload, separators=(",", ":")).encode())
            self._prune()
        except OSError:
            pass  # a read-only or full disk: the run's results stand, only the cache is lost

    def _prune(self) -> None:
        others = []
        for candidate in self.folder.glob("results-*.json"):
            if candidate != self.file:
                try:
                    others.append((candidate.stat().st_mtime_ns, candidate))
                except OSError:
                    pass
        for _, old in sorted(others, reverse=True)[KEEP_KEYS - 1 :]:
            try:
                old.unlink()
            except OSError:
                pass


def _mark_folder(folder: Path) -> None:
    """Tell git and backup tools to leave the folder alone (as pytest and ruff do)."""
    for name, text in (
        (".gitignore", "# Created by zmqlint\n*\n"),
        ("CACHEDIR.TAG", "Signature: 8a477f597d28d172789f06886806bc55\n# zmqlint result cache\n"),
    ):
        marker = folder / name
        if not marker.exists():
            try:
                _atomic_write(marker, text.encode())
            except OSError:
                pass


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
