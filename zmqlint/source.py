"""Reading and writing source files without losing anything.

A file is read as bytes, its encoding found the way the interpreter finds it (BOM, PEP 263
cookie, else UTF-8), and decoded. Writing goes back through the same encoding, puts the BOM
back, keeps the file's mode, and replaces the file atomically; a file that changed on disk
since it was read is left alone.
"""

from __future__ import annotations

import codecs
import contextlib
import io
import os
import stat
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator


class SourceError(Exception):
    """The file cannot be read or decoded (reported as E902)."""


class ConcurrentModification(Exception):
    """The file changed on disk between reading and writing."""


@dataclass
class SourceFile:
    path: Path
    raw: bytes
    text: str  # decoded, without the BOM
    encoding: str
    bom: bool

    @classmethod
    def read(cls, path: Path) -> "SourceFile":
        try:
            # Only regular files: reading a FIFO or a device named `x.py` would block forever
            # or never end. O_NONBLOCK keeps a FIFO swapped in after the check from blocking.
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    raise SourceError("cannot read file: not a regular file")
                with os.fdopen(fd, "rb", closefd=False) as handle:
                    raw = handle.read()
            finally:
                os.close(fd)
        except OSError as exc:
            raise SourceError(f"cannot read file: {exc.strerror or exc}") from exc
        return cls.from_bytes(path, raw)

    @classmethod
    def from_bytes(cls, path: Path, raw: bytes) -> "SourceFile":
        bom = raw.startswith(codecs.BOM_UTF8)
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        except SyntaxError as exc:
            raise SourceError(f"cannot decode file: {exc.msg if hasattr(exc, 'msg') else exc}") from exc
        body = raw[len(codecs.BOM_UTF8) :] if bom else raw
        if encoding == "utf-8-sig":
            encoding = "utf-8"
        try:
            text = body.decode(encoding)
        except UnicodeDecodeError as exc:
            line = body[: exc.start].count(b"\n") + 1
            raise SourceError(
                f"cannot decode file as {encoding}: invalid byte 0x{body[exc.start]:02x} on line {line}"
            ) from exc
        except LookupError as exc:
            raise SourceError(f"unknown encoding {encoding!r} declared in the file") from exc
        return cls(path=Path(path), raw=raw, text=text, encoding=encoding, bom=bom)

    def encode(self, text: str) -> bytes:
        """``text`` in this file's encoding, with the BOM if the file had one."""
        data = text.encode(self.encoding)
        return codecs.BOM_UTF8 + data if self.bom else data

    def write(self, text: str) -> None:
        """Atomically replace the file with ``text``, keeping its mode, encoding and BOM.

        Raises `ConcurrentModification` (and writes nothing) if the file on disk no longer
        holds the bytes it was read with.
        """
        data = self.encode(text)
        atomic_replace(self.path, data, expected=self.raw)
        self.raw = data
        self.text = text


def atomic_replace(path: Path, data: bytes, *, expected: bytes | None = None) -> None:
    """Replace ``path`` by a file holding ``data`` (same mode, and owner where permitted),
    through a temporary file in the same folder and one `os.replace`.

    With ``expected``, the file must still hold those bytes: the check and the replace run
    under an exclusive lock on the folder, so two zmqlint processes cannot both pass the check
    and overwrite each other. A writer that does not take the lock (an editor) can still slip
    in between the check and the rename: that window is a few system calls long.
    """
    path = Path(path)
    st = os.stat(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".zmqlint-tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, stat.S_IMODE(st.st_mode))
        if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.geteuid(), os.getegid()):
            try:
                os.chown(tmp, st.st_uid, st.st_gid)
            except OSError:
                pass  # not permitted: the file becomes ours, as any editor's save would
        with _folder_lock(path.parent):
            if expected is not None and _current_bytes(path) != expected:
                raise ConcurrentModification(f"{path} changed on disk while it was being fixed; left as it was")
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _current_bytes(path: Path) -> bytes | None:
    try:
        return Path(path).read_bytes()
    except OSError:
        return None


@contextlib.contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``folder`` (POSIX ``flock``; nothing elsewhere)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock
