"""Safe serialisation for messages on sockets: ``dumps(obj)`` / ``loads(data)``.

``pickle.loads`` on bytes from a socket runs whatever code the sender put in them. This module
is the drop-in replacement zmqlint's SER201 / SER202 fixes rewrite to:

    sock.send(serde.dumps({"seq": 1, "samples": np.zeros(800, np.float32)}))
    frame = serde.loads(sock.recv())

A message is msgpack with a small header. Besides msgpack's own types (None, bool, int, float,
str, bytes, list, dict) it carries, as extension types:

* numpy arrays of plain numeric or bool dtypes (dtype by name, shape, raw little-endian bytes;
  numpy is only imported when an array is sent or received; object dtypes are refused),
* ``datetime.datetime`` (naive or with a fixed UTC offset), ``datetime.date``,
  ``datetime.timedelta``,
* ``set``, ``frozenset`` and ``tuple`` (so they come back as what was sent).

Decoding never executes code and never imports anything named in the message: the extension
types are a fixed table, and an array's dtype must be one of a fixed list of names.

Options (keyword arguments of `dumps` / `loads`, or a `Serde` instance holding them):

* ``key``: HMAC-SHA256 key (bytes or str). Default: the ``ZMQ_SERDE_KEY`` environment
  variable. With a key, `dumps` signs and `loads` refuses unsigned or wrongly signed messages
  (constant-time comparison); without one, `loads` refuses signed messages it cannot check.
* ``max_size``: largest message accepted or produced, in bytes (default 16 MiB).
* ``schema`` (`loads` only): a mapping ``field -> type`` (or tuple of types) the message, a
  dict, must satisfy; or a callable that receives the decoded message and returns what
  `loads` gives back (e.g. a pydantic model's ``model_validate``); what it raises becomes a
  `SchemaError`.

Every problem with a received message raises a `SerdeError` subclass — `MessageTooLarge`,
`BadSignature`, `MalformedMessage`, `SchemaError` — never anything else, so a receive loop can
catch `SerdeError`, log it and go on serving the next message.
"""

from __future__ import annotations

import datetime as _dt
import hmac
import os
import sys
from typing import Any, Callable, Mapping, Optional, Tuple, Union

import msgpack

__all__ = [
    "BadSignature",
    "DEFAULT_MAX_SIZE",
    "KEY_ENV",
    "MalformedMessage",
    "MessageTooLarge",
    "SchemaError",
    "Serde",
    "SerdeError",
    "UnsupportedType",
    "dumps",
    "loads",
]

#: Environment variable holding the HMAC key when none is passed.
KEY_ENV = "ZMQ_SERDE_KEY"
DEFAULT_MAX_SIZE = 16 * 1024 * 1024

_MAGIC = b"ZS"
_VERSION = 1
_FLAG_SIGNED = 0x01
_HEADER_LEN = 4
_MAC_LEN = 32
_HEADER_PLAIN = bytes((_MAGIC[0], _MAGIC[1], _VERSION, 0))
_HEADER_SIGNED = bytes((_MAGIC[0], _MAGIC[1], _VERSION, _FLAG_SIGNED))

_EXT_NDARRAY = 1
_EXT_DATETIME = 2
_EXT_DATE = 3
_EXT_TIMEDELTA = 4
_EXT_SET = 5
_EXT_FROZENSET = 6
_EXT_TUPLE = 7

#: Array dtypes that may cross the wire, by numpy's ``dtype.str`` (always little-endian).
ALLOWED_DTYPES = frozenset(
    ["|b1", "|i1", "|u1", "<i2", "<u2", "<i4", "<u4", "<i8", "<u8", "<f2", "<f4", "<f8", "<c8", "<c16"]
)
_MAX_DIMS = 32

Key = Union[bytes, bytearray, str]
Schema = Union[Mapping[str, Union[type, Tuple[type, ...]]], Callable[[Any], Any]]


class SerdeError(ValueError):
    """A message could not be encoded or was refused on decoding."""


class MessageTooLarge(SerdeError):
    """The message is larger than the allowed maximum size."""


class BadSignature(SerdeError):
    """The message's HMAC does not match, is missing, or cannot be checked."""


class MalformedMessage(SerdeError):
    """The bytes are not a well-formed serde message (truncated, garbage, bad extension data)."""


class SchemaError(SerdeError):
    """The decoded message does not have the fields and types the schema asks for."""


class UnsupportedType(SerdeError, TypeError):
    """`dumps` was given a value it cannot encode safely (e.g. an object-dtype array, a class)."""


def _key_bytes(key: Optional[Key]) -> Optional[bytes]:
    if key is None:
        key = os.environ.get(KEY_ENV) or None
    if key is None:
        return None
    if isinstance(key, str):
        key = key.encode("utf-8")
    if not isinstance(key, (bytes, bytearray)) or not key:
        raise SerdeError("an HMAC key must be non-empty bytes or str")
    return bytes(key)


# -- encoding ------------------------------------------------------------------------------


def _encode_array(obj: Any) -> msgpack.ExtType:
    import numpy as np  # only reached for numpy values, so numpy is installed

    if obj.dtype.hasobject or obj.dtype.fields is not None:
        raise UnsupportedType(f"numpy arrays of dtype {obj.dtype} cannot be sent; only plain numeric and bool dtypes")
    dtype = obj.dtype.newbyteorder("<") if obj.dtype.byteorder == ">" else obj.dtype
    if dtype.str not in ALLOWED_DTYPES:
        raise UnsupportedType(f"numpy arrays of dtype {obj.dtype} cannot be sent; only plain numeric and bool dtypes")
    data = np.ascontiguousarray(obj, dtype=dtype)
    meta = msgpack.packb([dtype.str, list(data.shape)])
    return msgpack.ExtType(_EXT_NDARRAY, b"".join((len(meta).to_bytes(2, "little"), meta, data.data.cast("B"))))


def _default(obj: Any) -> Any:
    kind = type(obj)
    if kind is tuple:
        return msgpack.ExtType(_EXT_TUPLE, _pack(list(obj)))
    if kind is set:
        return msgpack.ExtType(_EXT_SET, _pack(list(obj)))
    if kind is frozenset:
        return msgpack.ExtType(_EXT_FROZENSET, _pack(list(obj)))
    if isinstance(obj, _dt.datetime):
        offset = obj.utcoffset()
        fields = [obj.year, obj.month, obj.day, obj.hour, obj.minute, obj.second, obj.microsecond]
        fields.append(None if offset is None else offset // _dt.timedelta(microseconds=1))
        return msgpack.ExtType(_EXT_DATETIME, _pack(fields))
    if isinstance(obj, _dt.date):
        return msgpack.ExtType(_EXT_DATE, _pack([obj.year, obj.month, obj.day]))
    if isinstance(obj, _dt.timedelta):
        return msgpack.ExtType(_EXT_TIMEDELTA, _pack([obj.days, obj.seconds, obj.microseconds]))
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(obj, numpy.ndarray):
            return _encode_array(obj)
        if isinstance(obj, numpy.generic) and not obj.dtype.hasobject:
            return obj.item()
    # Subclasses of the plain types (IntEnum, OrderedDict, defaultdict, str enums...) go as
    # their base type; strict_types sends them here so that tuples can keep their type.
    for base in (bool, int, float, str, bytes, dict, list):
        if isinstance(obj, base):
            return base(obj)
    if isinstance(obj, (bytearray, memoryview)):
        return bytes(obj)
    raise UnsupportedType(f"cannot encode an object of type {kind.__module__}.{kind.__qualname__}")


def _pack(obj: Any) -> bytes:
    return msgpack.packb(obj, default=_default, strict_types=True, use_bin_type=True)


# -- decoding ------------------------------------------------------------------------------


def _decode_array(data: bytes) -> Any:
    try:
        import numpy as np
    except ImportError:
        raise MalformedMessage("the message holds a numpy array but numpy is not installed") from None
    if len(data) < 2:
        raise MalformedMessage("truncated array")
    meta_len = int.from_bytes(data[:2], "little")
    meta = msgpack.unpackb(memoryview(data)[2 : 2 + meta_len])
    if not (isinstance(meta, list) and len(meta) == 2 and isinstance(meta[0], str) and isinstance(meta[1], list)):
        raise MalformedMessage("bad array header")
    dtype_name, shape = meta
    if dtype_name not in ALLOWED_DTYPES:
        raise MalformedMessage(f"array dtype {dtype_name!r} is not allowed")
    if len(shape) > _MAX_DIMS or not all(type(n) is int and n >= 0 for n in shape):
        raise MalformedMessage(f"bad array shape {shape!r}")
    dtype = np.dtype(dtype_name)
    count = 1
    for n in shape:
        count *= n
    raw = memoryview(data)[2 + meta_len :]
    if count * dtype.itemsize != raw.nbytes:
        raise MalformedMessage(
            f"array of shape {tuple(shape)} and dtype {dtype_name} needs {count * dtype.itemsize} bytes, got {raw.nbytes}"
        )
    # A bytearray keeps the array writable, as pickle's arrays are.
    return np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)


def _ints(value: Any, count: int, what: str) -> list:
    if not (isinstance(value, list) and len(value) == count and all(type(v) is int for v in value)):
        raise MalformedMessage(f"bad {what} fields")
    return value


def _ext_hook(code: int, data: bytes) -> Any:
    if code == _EXT_NDARRAY:
        return _decode_array(data)
    if code in (_EXT_TUPLE, _EXT_SET, _EXT_FROZENSET):
        items = _unpack(data)
        if not isinstance(items, list):
            raise MalformedMessage("bad sequence extension")
        return {_EXT_TUPLE: tuple, _EXT_SET: set, _EXT_FROZENSET: frozenset}[code](items)
    if code == _EXT_DATETIME:
        fields = _unpack(data)
        if not (isinstance(fields, list) and len(fields) == 8 and (fields[7] is None or type(fields[7]) is int)):
            raise MalformedMessage("bad datetime fields")
        tz = None if fields[7] is None else _dt.timezone(_dt.timedelta(microseconds=fields[7]))
        return _dt.datetime(*_ints(fields[:7], 7, "datetime"), tzinfo=tz)
    if code == _EXT_DATE:
        return _dt.date(*_ints(_unpack(data), 3, "date"))
    if code == _EXT_TIMEDELTA:
        return _dt.timedelta(*_ints(_unpack(data), 3, "timedelta"))
    raise MalformedMessage(f"unknown extension type {code}")


def _unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, ext_hook=_ext_hook, raw=False, strict_map_key=False, use_list=True)


def _check_schema(message: Any, schema: Schema) -> Any:
    if callable(schema) and not isinstance(schema, Mapping):
        try:
            return schema(message)
        except SerdeError:
            raise
        except Exception as exc:
            raise SchemaError(f"schema rejected the message: {type(exc).__name__}: {exc}") from exc
    if not isinstance(message, dict):
        raise SchemaError(f"expected a mapping with fields {sorted(schema)}, got {type(message).__name__}")
    for field, expected in schema.items():
        if field not in message:
            raise SchemaError(f"field {field!r} is missing")
        value = message[field]
        types = expected if isinstance(expected, tuple) else (expected,)
        if float in types and type(value) is int:
            continue  # an integral float travels as an int
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types and int in types):
            names = " or ".join(getattr(t, "__name__", repr(t)) for t in types)
            raise SchemaError(f"field {field!r} should be {names}, got {type(value).__name__}")
    return message


# -- public API ----------------------------------------------------------------------------


class Serde:
    """`dumps` / `loads` with settings given once: ``Serde(key=..., max_size=..., schema=...)``."""

    def __init__(self, *, key: Optional[Key] = None, max_size: int = DEFAULT_MAX_SIZE, schema: Optional[Schema] = None):
        self.key = key
        self.max_size = max_size
        self.schema = schema

    def dumps(self, obj: Any) -> bytes:
        return dumps(obj, key=self.key, max_size=self.max_size)

    def loads(self, data: Any) -> Any:
        return loads(data, key=self.key, max_size=self.max_size, schema=self.schema)


def dumps(obj: Any, *, key: Optional[Key] = None, max_size: int = DEFAULT_MAX_SIZE) -> bytes:
    """Encode ``obj`` as one message (signed when a key is given or set in ``ZMQ_SERDE_KEY``).

    Raises `UnsupportedType` for values it cannot encode safely and `MessageTooLarge` when the
    message would exceed ``max_size`` (the receiver would refuse it).
    """
    secret = _key_bytes(key)
    try:
        body = _pack(obj)
    except SerdeError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise UnsupportedType(f"cannot encode the message: {exc}") from exc
    size = _HEADER_LEN + len(body) + (_MAC_LEN if secret else 0)
    if size > max_size:
        raise MessageTooLarge(f"message of {size} bytes exceeds the maximum of {max_size} bytes")
    if secret is None:
        return _HEADER_PLAIN + body
    signed = _HEADER_SIGNED + body
    # The MAC covers header and body and trails them, so the receiver checks it without a copy.
    return signed + hmac.digest(secret, signed, "sha256")


def loads(data: Any, *, key: Optional[Key] = None, max_size: int = DEFAULT_MAX_SIZE, schema: Optional[Schema] = None) -> Any:
    """Decode one message made by `dumps`; raise a `SerdeError` subclass for anything else.

    ``data`` may be bytes, bytearray, memoryview or a ``zmq.Frame``.
    """
    try:
        view = memoryview(data)
    except TypeError:
        raise MalformedMessage(f"expected bytes, got {type(data).__name__}") from None
    if view.ndim != 1 or view.format != "B":
        view = view.cast("B")
    size = view.nbytes
    if size > max_size:
        raise MessageTooLarge(f"message of {size} bytes exceeds the maximum of {max_size} bytes")
    if size < _HEADER_LEN or view[0] != _MAGIC[0] or view[1] != _MAGIC[1]:
        raise MalformedMessage("not a serde message (missing header); was it sent with pickle or another format?")
    version, flags = view[2], view[3]
    if version != _VERSION:
        raise MalformedMessage(f"unsupported serde message version {version}")
    if flags & ~_FLAG_SIGNED:
        raise MalformedMessage(f"unknown header flags {flags:#x}")
    secret = _key_bytes(key)
    signed = bool(flags & _FLAG_SIGNED)
    body_end = size - _MAC_LEN if signed else size
    if secret is not None:
        if not signed:
            raise BadSignature("message is not signed but a key is configured")
        if body_end < _HEADER_LEN:
            raise BadSignature("message is too short to hold its signature")
        if not hmac.compare_digest(hmac.digest(secret, view[:body_end], "sha256"), view[body_end:]):
            raise BadSignature("message signature does not match (wrong key or tampered message)")
    elif signed:
        raise BadSignature(f"message is signed but no key is configured (pass key= or set {KEY_ENV})")
    try:
        message = _unpack(view[_HEADER_LEN:body_end])
    except SerdeError:
        raise
    except RecursionError:
        raise MalformedMessage("message is nested too deeply") from None
    except Exception as exc:  # msgpack's and the extension decoders' errors alike
        raise MalformedMessage(f"cannot decode the message: {type(exc).__name__}: {exc}") from exc
    if schema is not None:
        message = _check_schema(message, schema)
    return message
