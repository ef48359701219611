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
* ``set``, ``frozenset`` and ``tuple`` (so they come back as what was sent),
* the project's own types, once the receiver allows them (below), and exceptions.

Project types
-------------
Real channels carry the project's own classes: request arguments as dataclasses, results as
pydantic models, states as enums, errors sent back to the caller. The receiver names the ones
it accepts, once, next to its import of this module::

    serde.register(InferenceArgs, TokenResult, Status, GenerationError)

(or ``loads(data, types=[...])`` for one call, or ``Serde(types=[...])`` for one channel).
Then:

* a dataclass travels as its ``__init__`` fields (encoded recursively: arrays, datetimes and
  other registered types inside it are fine) and is rebuilt by calling the class with them;
* a pydantic model (v2 ``model_dump`` / ``model_validate``, v1 ``dict`` / ``parse_obj``; pydantic
  is never imported here) travels as its dump and is rebuilt by validating it;
* an ``enum.Enum`` member travels as its value, a ``NamedTuple`` as its items;
* an exception travels as its type's key, its ``args`` (those that cannot be encoded as their
  ``repr``) and its message. It comes back as the registered class (the built-in exceptions
  are always registered), or else as a `RemoteError` carrying the type name, args and message.

On the wire a type is named by a key, ``module.QualName`` (just ``QualName`` for a class of
the main script; ``register(cls, name=...)`` pins another), that the receiver only looks up in
its table of registered classes: decoding never imports anything and never builds a class it
was not given. A message naming a key the receiver has not registered is a `SchemaError`
(except for exceptions: `RemoteError`). The sender needs no registration for dataclasses,
pydantic models, plain enums and exceptions; ``IntEnum`` / ``str`` enums and ``NamedTuple``s go
as their plain value (an ``int``, a ``str``, a ``tuple``) unless registered on the sending side
too.

Options (keyword arguments of `dumps` / `loads`, or a `Serde` instance holding them):

* ``key``: HMAC-SHA256 key (bytes or str). Default: the ``ZMQ_SERDE_KEY`` environment
  variable. With a key, `dumps` signs and `loads` refuses unsigned or wrongly signed messages
  (constant-time comparison); without one, `loads` refuses signed messages it cannot check.
* ``max_size``: largest message accepted or produced, in bytes (default 16 MiB).
* ``schema`` (`loads` only): a mapping ``field -> type`` (or tuple of types) the message, a
  dict, must satisfy; or a callable that receives the decoded message and returns what
  `loads` gives back (e.g. a pydantic model's ``model_validate``); what it raises becomes a
  `SchemaError`.
* ``types``: classes allowed for this call (or this `Serde`), besides those registered.

Every problem with a received message raises a `SerdeError` subclass — `MessageTooLarge`,
`BadSignature`, `MalformedMessage`, `SchemaError` — never anything else, so a receive loop can
catch `SerdeError`, log it and go on serving the next message.
"""

from __future__ import annotations

import builtins
import dataclasses
import datetime as _dt
import enum
import hmac
import os
import sys
from typing import Any, Callable, Dict, Iterable, List, Mapping, NamedTuple, Optional, Tuple, Union

import msgpack

__all__ = [
    "BadSignature",
    "DEFAULT_MAX_SIZE",
    "KEY_ENV",
    "MalformedMessage",
    "MessageTooLarge",
    "RemoteError",
    "SchemaError",
    "Serde",
    "SerdeError",
    "UnsupportedType",
    "dumps",
    "loads",
    "register",
    "type_key",
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
_EXT_RECORD = 8  # [key, body]: an instance of a registered class
_EXT_EXCEPTION = 9  # [key, args, message]

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
    """The decoded message does not have the fields and types the schema asks for, or names
    a type this receiver has not registered, or its fields do not rebuild that type."""


class UnsupportedType(SerdeError, TypeError):
    """`dumps` was given a value it cannot encode safely (e.g. an object-dtype array, a class)."""


class RemoteError(Exception):
    """An exception the peer sent whose type this receiver has not registered.

    ``type_name`` is the peer's key for the type (``"myapp.errors.QuotaExceeded"``),
    ``remote_args`` its ``args`` and ``message`` its ``str()``; ``args`` is ``(message,)`` so
    that it reads well when raised.
    """

    def __init__(self, type_name: str, remote_args: Tuple[Any, ...] = (), message: str = "") -> None:
        super().__init__(message)
        self.type_name = type_name
        self.remote_args = tuple(remote_args)
        self.message = message

    def __str__(self) -> str:
        return f"{self.type_name}: {self.message}" if self.message else self.type_name

    def __repr__(self) -> str:
        return f"RemoteError({self.type_name!r}, {self.remote_args!r}, {self.message!r})"


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


# -- registered types ----------------------------------------------------------------------

_DATACLASS = "dataclass"
_PYDANTIC = "pydantic"  # v2: model_dump / model_validate
_PYDANTIC_V1 = "pydantic-v1"  # dict / parse_obj
_ENUM = "enum"
_NAMEDTUPLE = "namedtuple"
_EXCEPTION = "exception"


def type_key(cls: type) -> str:
    """The default wire key of ``cls``: ``module.QualName``, or ``QualName`` for a class of the
    main script (which its peers import under another module name, if at all)."""
    module = getattr(cls, "__module__", None) or ""
    qualname = getattr(cls, "__qualname__", None) or cls.__name__
    return qualname if module in ("__main__", "__mp_main__", "") else f"{module}.{qualname}"


def _kind_of(cls: Any) -> str:
    if not isinstance(cls, type):
        raise UnsupportedType(f"serde.register takes classes, got {type(cls).__name__} {cls!r}")
    if issubclass(cls, BaseException):
        return _EXCEPTION
    if issubclass(cls, enum.Enum):
        return _ENUM
    if dataclasses.is_dataclass(cls):
        return _DATACLASS
    if callable(getattr(cls, "model_validate", None)) and callable(getattr(cls, "model_dump", None)):
        return _PYDANTIC
    if callable(getattr(cls, "parse_obj", None)) and hasattr(cls, "__fields__") and callable(getattr(cls, "dict", None)):
        return _PYDANTIC_V1
    if issubclass(cls, tuple) and isinstance(getattr(cls, "_fields", None), tuple):
        return _NAMEDTUPLE
    raise UnsupportedType(
        f"cannot register {type_key(cls)}: only dataclasses, pydantic models, enums, NamedTuples and "
        "exceptions can be registered"
    )


def _instance_kind(obj: Any) -> Optional[str]:
    """The kind of an instance of an unregistered class that still travels under its default
    key (None: it does not)."""
    if isinstance(obj, BaseException):
        return _EXCEPTION
    kind = type(obj)
    if isinstance(obj, enum.Enum):
        # IntEnum / str enums are plain values too: they keep going as such.
        return None if isinstance(obj, (int, float, str, bytes)) else _ENUM
    if dataclasses.is_dataclass(kind):
        return _DATACLASS
    if callable(getattr(kind, "model_validate", None)) and callable(getattr(kind, "model_dump", None)):
        return _PYDANTIC
    if callable(getattr(kind, "parse_obj", None)) and hasattr(kind, "__fields__") and callable(getattr(kind, "dict", None)):
        return _PYDANTIC_V1
    return None


class _Entry(NamedTuple):
    cls: type
    key: str
    kind: str


class _Registry:
    """Classes allowed on the wire, by class and by key; looks in ``parent`` after itself."""

    def __init__(self, parent: Optional["_Registry"] = None) -> None:
        self.parent = parent
        self.by_class: Dict[type, _Entry] = {}
        self.by_key: Dict[str, _Entry] = {}

    def add(self, cls: type, name: Optional[str] = None) -> None:
        kind = _kind_of(cls)
        key = name if name is not None else type_key(cls)
        if not isinstance(key, str) or not key:
            raise SerdeError(f"a type key must be a non-empty str, got {key!r}")
        taken = self.entry_for_key(key)
        if taken is not None and taken.cls is not cls:
            raise SerdeError(
                f"type key {key!r} is already registered for {type_key(taken.cls)} (defined in "
                f"{taken.cls.__module__}); register {cls.__qualname__} under another one: serde.register(cls, name=...)"
            )
        entry = _Entry(cls, key, kind)
        self.by_key[key] = entry
        self.by_class[cls] = entry

    def entry_for_class(self, cls: type) -> Optional[_Entry]:
        found = self.by_class.get(cls)
        if found is None and self.parent is not None:
            return self.parent.entry_for_class(cls)
        return found

    def entry_for_key(self, key: str) -> Optional[_Entry]:
        found = self.by_key.get(key)
        if found is None and self.parent is not None:
            return self.parent.entry_for_key(key)
        return found


_REGISTRY = _Registry()
for _value in list(vars(builtins).values()):
    if isinstance(_value, type) and issubclass(_value, BaseException):
        _REGISTRY.add(_value)
del _value


def register(*classes: type, name: Optional[str] = None) -> Any:
    """Allow ``classes`` on every channel of this process; returns the (first) class, so it
    also works as a class decorator (``@serde.register`` or ``@serde.register(name="...")``).

    Dataclasses, pydantic models (v1 or v2), ``enum.Enum`` subclasses, ``NamedTuple``s and
    exceptions can be registered; anything else raises `UnsupportedType`. ``name`` pins the
    wire key of a single class (default: `type_key`). Registering the same class again is a
    no-op; another class under a key already taken raises `SerdeError`.
    """
    if not classes:
        return lambda cls: register(cls, name=name)
    if name is not None and len(classes) != 1:
        raise SerdeError("name= pins the key of one class; register the others separately")
    for cls in classes:
        _REGISTRY.add(cls, name)
    return classes[0]


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


def _enums_as_values(value: Any, registry: _Registry) -> Any:
    """A pydantic dump with its unregistered plain enum members replaced by their values
    (validation on the other side turns them back into members)."""
    if isinstance(value, enum.Enum) and registry.entry_for_class(type(value)) is None:
        return value.value
    if isinstance(value, dict):
        return {k: _enums_as_values(v, registry) for k, v in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_enums_as_values(v, registry) for v in value)
    return value


class _Codec:
    """Packs and unpacks messages with the classes of one registry."""

    def __init__(self, registry: _Registry) -> None:
        self.registry = registry
        #: Idle packers: extension values are packed from inside an outer pack, so a packer
        #: busy with the outer value cannot be reused for them; a pool saves making new ones.
        self._packers: List[msgpack.Packer] = []
        self._fields: Dict[type, Tuple[str, ...]] = {}

    # -- encoding --

    def pack(self, obj: Any) -> bytes:
        packers = self._packers
        packer = packers.pop() if packers else msgpack.Packer(default=self.default, strict_types=True, use_bin_type=True)
        try:
            return packer.pack(obj)
        except BaseException:
            packer.reset()
            raise
        finally:
            if len(packers) < 8:
                packers.append(packer)

    def default(self, obj: Any) -> Any:
        kind = type(obj)
        if kind is tuple:
            return msgpack.ExtType(_EXT_TUPLE, self.pack(list(obj)))
        if kind is set:
            return msgpack.ExtType(_EXT_SET, self.pack(list(obj)))
        if kind is frozenset:
            return msgpack.ExtType(_EXT_FROZENSET, self.pack(list(obj)))
        if isinstance(obj, _dt.datetime):
            offset = obj.utcoffset()
            fields = [obj.year, obj.month, obj.day, obj.hour, obj.minute, obj.second, obj.microsecond]
            fields.append(None if offset is None else offset // _dt.timedelta(microseconds=1))
            return msgpack.ExtType(_EXT_DATETIME, self.pack(fields))
        if isinstance(obj, _dt.date):
            return msgpack.ExtType(_EXT_DATE, self.pack([obj.year, obj.month, obj.day]))
        if isinstance(obj, _dt.timedelta):
            return msgpack.ExtType(_EXT_TIMEDELTA, self.pack([obj.days, obj.seconds, obj.microseconds]))
        entry = self.registry.entry_for_class(kind)
        if entry is not None:
            return self._record(obj, entry.key, entry.kind)
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            if isinstance(obj, numpy.ndarray):
                return _encode_array(obj)
            if isinstance(obj, numpy.generic) and not obj.dtype.hasobject:
                return obj.item()
        unregistered = _instance_kind(obj)
        if unregistered is not None:
            return self._record(obj, type_key(kind), unregistered)
        # Subclasses of the plain types (IntEnum, OrderedDict, defaultdict, str enums,
        # NamedTuples...) go as their base type; strict_types sends them here so that tuples
        # can keep their type.
        if isinstance(obj, enum.Enum):
            return obj.value  # str(Role.USER) is "Role.USER" for a str enum; its value is "user"
        for base in (bool, int, float, str, bytes, dict, list, tuple):
            if isinstance(obj, base):
                return self.default(tuple(obj)) if base is tuple else base(obj)
        if isinstance(obj, (bytearray, memoryview)):
            return bytes(obj)
        raise UnsupportedType(
            f"cannot encode an object of type {kind.__module__}.{kind.__qualname__}: send plain data, "
            "or make it a dataclass, pydantic model, NamedTuple or Enum that the receiver registers (serde.register)"
        )

    def _record(self, obj: Any, key: str, kind: str) -> msgpack.ExtType:
        if kind == _EXCEPTION:
            return msgpack.ExtType(_EXT_EXCEPTION, self.pack([key, self._exception_args(obj), str(obj)]))
        if kind == _DATACLASS:
            names = self._fields.get(type(obj))
            if names is None:
                names = self._fields[type(obj)] = tuple(f.name for f in dataclasses.fields(obj) if f.init)
            body: Any = {name: getattr(obj, name) for name in names if hasattr(obj, name)}
        elif kind == _PYDANTIC:
            body = _enums_as_values(obj.model_dump(), self.registry)
        elif kind == _PYDANTIC_V1:
            body = _enums_as_values(obj.dict(), self.registry)
        elif kind == _ENUM:
            body = obj.value
        else:  # _NAMEDTUPLE
            body = list(obj)
        return msgpack.ExtType(_EXT_RECORD, self.pack([key, body]))

    def _exception_args(self, exc: BaseException) -> List[Any]:
        args = []
        for arg in exc.args:
            try:
                self.pack(arg)
            except Exception:  # an argument that does not travel: its repr does
                arg = repr(arg)
            args.append(arg)
        return args

    # -- decoding --

    def unpack(self, data: Any) -> Any:
        return msgpack.unpackb(data, ext_hook=self.ext_hook, raw=False, strict_map_key=False, use_list=True)

    def ext_hook(self, code: int, data: bytes) -> Any:
        if code == _EXT_NDARRAY:
            return _decode_array(data)
        if code in (_EXT_TUPLE, _EXT_SET, _EXT_FROZENSET):
            items = self.unpack(data)
            if not isinstance(items, list):
                raise MalformedMessage("bad sequence extension")
            return {_EXT_TUPLE: tuple, _EXT_SET: set, _EXT_FROZENSET: frozenset}[code](items)
        if code == _EXT_DATETIME:
            fields = self.unpack(data)
            if not (isinstance(fields, list) and len(fields) == 8 and (fields[7] is None or type(fields[7]) is int)):
                raise MalformedMessage("bad datetime fields")
            tz = None if fields[7] is None else _dt.timezone(_dt.timedelta(microseconds=fields[7]))
            return _dt.datetime(*_ints(fields[:7], 7, "datetime"), tzinfo=tz)
        if code == _EXT_DATE:
            return _dt.date(*_ints(self.unpack(data), 3, "date"))
        if code == _EXT_TIMEDELTA:
            return _dt.timedelta(*_ints(self.unpack(data), 3, "timedelta"))
        if code == _EXT_RECORD:
            return self._rebuild(self.unpack(data))
        if code == _EXT_EXCEPTION:
            return self._rebuild_exception(self.unpack(data))
        raise MalformedMessage(f"unknown extension type {code}")

    def _rebuild(self, record: Any) -> Any:
        if not (isinstance(record, list) and len(record) == 2 and isinstance(record[0], str)):
            raise MalformedMessage("bad record extension")
        key, body = record
        entry = self.registry.entry_for_key(key)
        if entry is None or entry.kind == _EXCEPTION:
            raise SchemaError(
                f"the message holds a {key!r}, a type this receiver has not registered "
                "(allow it with serde.register or types=[...])"
            )
        cls, kind = entry.cls, entry.kind
        if kind in (_DATACLASS, _PYDANTIC, _PYDANTIC_V1) and not (
            isinstance(body, dict) and all(isinstance(name, str) for name in body)
        ):
            raise SchemaError(f"a {key} must travel as a mapping of its fields, got {type(body).__name__}")
        if kind == _NAMEDTUPLE and not isinstance(body, list):
            raise SchemaError(f"a {key} must travel as a list of its items, got {type(body).__name__}")
        try:
            if kind == _DATACLASS:
                return cls(**body)
            if kind == _PYDANTIC:
                return cls.model_validate(body)
            if kind == _PYDANTIC_V1:
                return cls.parse_obj(body)
            if kind == _ENUM:
                return cls(body)
            return cls(*body)
        except SerdeError:
            raise
        except Exception as exc:  # the class's own checks refused the fields
            raise SchemaError(f"cannot rebuild a {key} from the message: {type(exc).__name__}: {exc}") from exc

    def _rebuild_exception(self, record: Any) -> BaseException:
        if not (
            isinstance(record, list)
            and len(record) == 3
            and isinstance(record[0], str)
            and isinstance(record[1], list)
            and isinstance(record[2], str)
        ):
            raise MalformedMessage("bad exception extension")
        key, args, message = record
        entry = self.registry.entry_for_key(key)
        if entry is None or entry.kind != _EXCEPTION:
            return RemoteError(key, tuple(args), message)
        cls = entry.cls
        try:
            exc = cls(*args)
            if exc.args == tuple(args):
                return exc
        except Exception:
            pass
        # An __init__ whose parameters are not its args (it formats a message from them):
        # the exception itself, with the args it had, without calling __init__ (so what
        # __init__ would have set besides args is missing).
        try:
            exc = cls.__new__(cls, *args)
            exc.args = tuple(args)
        except Exception as error:
            raise SchemaError(f"cannot rebuild a {key} from the message: {type(error).__name__}: {error}") from error
        return exc


_GLOBAL = _Codec(_REGISTRY)
_CODECS: Dict[Tuple[type, ...], _Codec] = {}


def _codec(types: Optional[Iterable[type]]) -> _Codec:
    if not types:
        return _GLOBAL
    wanted = tuple(types)
    codec = _CODECS.get(wanted)
    if codec is None:
        registry = _Registry(parent=_REGISTRY)
        for cls in wanted:
            registry.add(cls)
        codec = _Codec(registry)
        if len(_CODECS) < 256:
            _CODECS[wanted] = codec
    return codec


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
    """`dumps` / `loads` with settings given once: ``Serde(key=..., max_size=..., schema=...,
    types=[...])``. ``types`` are allowed on this instance only, besides those registered."""

    def __init__(
        self,
        *,
        key: Optional[Key] = None,
        max_size: int = DEFAULT_MAX_SIZE,
        schema: Optional[Schema] = None,
        types: Iterable[type] = (),
    ):
        self.key = key
        self.max_size = max_size
        self.schema = schema
        registry = _Registry(parent=_REGISTRY)
        for cls in types:
            registry.add(cls)
        self._codec = _Codec(registry)

    def register(self, *classes: type, name: Optional[str] = None) -> Any:
        """Allow ``classes`` on this instance (see the module's `register`)."""
        if name is not None and len(classes) != 1:
            raise SerdeError("name= pins the key of one class; register the others separately")
        for cls in classes:
            self._codec.registry.add(cls, name)
        return classes[0] if classes else None

    def dumps(self, obj: Any) -> bytes:
        return _dumps(obj, self.key, self.max_size, self._codec)

    def loads(self, data: Any) -> Any:
        return _loads(data, self.key, self.max_size, self.schema, self._codec)


def dumps(
    obj: Any, *, key: Optional[Key] = None, max_size: int = DEFAULT_MAX_SIZE, types: Optional[Iterable[type]] = None
) -> bytes:
    """Encode ``obj`` as one message (signed when a key is given or set in ``ZMQ_SERDE_KEY``).

    Raises `UnsupportedType` for values it cannot encode safely and `MessageTooLarge` when the
    message would exceed ``max_size`` (the receiver would refuse it).
    """
    return _dumps(obj, key, max_size, _codec(types))


def loads(
    data: Any,
    *,
    key: Optional[Key] = None,
    max_size: int = DEFAULT_MAX_SIZE,
    schema: Optional[Schema] = None,
    types: Optional[Iterable[type]] = None,
) -> Any:
    """Decode one message made by `dumps`; raise a `SerdeError` subclass for anything else.

    ``data`` may be bytes, bytearray, memoryview or a ``zmq.Frame``.
    """
    return _loads(data, key, max_size, schema, _codec(types))


def _dumps(obj: Any, key: Optional[Key], max_size: int, codec: _Codec) -> bytes:
    secret = _key_bytes(key)
    try:
        body = codec.pack(obj)
    except SerdeError:
        raise
    except RecursionError:
        raise UnsupportedType("the message is nested too deeply (or refers to itself)") from None
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


def _loads(data: Any, key: Optional[Key], max_size: int, schema: Optional[Schema], codec: _Codec) -> Any:
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
        message = codec.unpack(view[_HEADER_LEN:body_end])
    except SerdeError:
        raise
    except RecursionError:
        raise MalformedMessage("message is nested too deeply") from None
    except Exception as exc:  # msgpack's and the extension decoders' errors alike
        raise MalformedMessage(f"cannot decode the message: {type(exc).__name__}: {exc}") from exc
    if schema is not None:
        message = _check_schema(message, schema)
    return message
