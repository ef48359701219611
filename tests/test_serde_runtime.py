"""zmqlint_runtime.serde: what SER201/SER202 fixes rewrite pickle onto.

Messages travel over real pyzmq sockets on 127.0.0.1; hostile input is refused with a
`SerdeError` subclass while the receiving loop goes on serving good messages.
"""

from __future__ import annotations

import datetime as dt
import pickle

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from zmqlint_runtime import serde

KEY = b"fleet-shared-secret"
TIMEOUT_MS = 2000


def _message():
    return {
        "seq": 7,
        "meta": {"agent": "audio_preprocessor", "tags": ["a", "b"], "nested": {"deep": [1, 2.5, None, True]}},
        "samples": np.linspace(-1, 1, 800, dtype=np.float32),
        "spectrogram": np.arange(24, dtype=np.int16).reshape(2, 3, 4),
        "captured_at": dt.datetime(2024, 5, 24, 12, 0, 0, 123456, tzinfo=dt.timezone.utc),
        "local_time": dt.datetime(2024, 5, 24, 14, 0),
        "window": dt.timedelta(milliseconds=50),
        "speakers": {"alice", "bob"},
        "shape": (2, 3, 4),
    }


def _assert_same(sent, received):
    assert received.keys() == sent.keys()
    for name, value in sent.items():
        if isinstance(value, np.ndarray):
            assert received[name].dtype == value.dtype and received[name].shape == value.shape
            assert np.array_equal(received[name], value)
        else:
            assert received[name] == value and type(received[name]) is type(value), name


@pytest.fixture
def context():
    ctx = zmq.Context()
    yield ctx
    ctx.term()


def _pair(context, server_type, client_type):
    server = context.socket(server_type)
    client = context.socket(client_type)
    for sock in (server, client):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
        sock.setsockopt(zmq.SNDTIMEO, TIMEOUT_MS)
    server.bind("tcp://127.0.0.1:*")
    client.connect(server.getsockopt(zmq.LAST_ENDPOINT).decode())
    return server, client


def test_pub_sub_carries_dicts_arrays_and_datetimes_signed(context):
    pub, sub = _pair(context, zmq.PUB, zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sent = _message()
    poller = zmq.Poller()
    poller.register(sub, zmq.POLLIN)
    received = None
    for _ in range(50):  # PUB/SUB joins late: publish until the subscriber hears
        pub.send(serde.dumps(sent, key=KEY))
        if poller.poll(100):
            received = serde.loads(sub.recv(), key=KEY)
            break
    pub.close()
    sub.close()
    assert received is not None, "no message arrived within 5 s"
    _assert_same(sent, received)
    received["samples"][0] = 5.0  # arrays come back writable, as pickle's did


def test_req_rep_round_trip(context):
    rep, req = _pair(context, zmq.REP, zmq.REQ)
    request = {"action": "ingest", "pcm": np.arange(16, dtype=np.int16), "at": dt.date(2024, 5, 24)}
    req.send(serde.dumps(request))
    got = serde.loads(rep.recv())
    rep.send(serde.dumps({"status": "ok", "rms": float(np.sqrt(np.mean(got["pcm"].astype(np.float64) ** 2)))}))
    reply = serde.loads(req.recv())
    rep.close()
    req.close()
    assert np.array_equal(got["pcm"], request["pcm"]) and got["at"] == request["at"]
    assert reply["status"] == "ok" and reply["rms"] == pytest.approx((sum(k * k for k in range(16)) / 16) ** 0.5)


def test_receive_loop_refuses_bad_frames_and_keeps_serving(context):
    pull = context.socket(zmq.PULL)
    push = context.socket(zmq.PUSH)
    for sock in (pull, push):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    pull.bind("tcp://127.0.0.1:*")
    push.connect(pull.getsockopt(zmq.LAST_ENDPOINT).decode())
    good = serde.dumps({"n": 1}, key=KEY)
    tampered = bytearray(serde.dumps({"n": 666}, key=KEY))
    tampered[-1] ^= 0x01
    frames = [
        good,
        good[: len(good) // 2],  # truncated
        b"\x80\x04garbage that is not a message",
        bytes(tampered),
        serde.dumps({"n": 2}, key=b"someone else's key"),
        serde.dumps({"n": 3}),  # unsigned
        b"ZS\x01\x01" + b"\0" * 64,  # oversized below
        serde.dumps({"n": 4}, key=KEY),
    ]
    served, refused = [], []
    for frame in frames:
        push.send(frame)
    for _ in range(len(frames)):
        data = pull.recv()
        try:
            served.append(serde.loads(data, key=KEY, max_size=64)["n"])
        except serde.SerdeError as exc:
            refused.append(type(exc).__name__)
    push.close()
    pull.close()
    assert served == [1, 4]
    assert refused == ["BadSignature", "MalformedMessage", "BadSignature", "BadSignature", "BadSignature", "MessageTooLarge"]


def test_errors_say_what_is_wrong():
    data = serde.dumps({"a": 1}, key=KEY)
    with pytest.raises(serde.BadSignature, match="no key is configured"):
        serde.loads(data)
    with pytest.raises(serde.BadSignature, match="does not match"):
        serde.loads(data, key=b"wrong")
    with pytest.raises(serde.MessageTooLarge, match="exceeds the maximum of 10 bytes"):
        serde.loads(data, key=KEY, max_size=10)
    with pytest.raises(serde.MessageTooLarge):
        serde.dumps(b"x" * 100, max_size=50)
    with pytest.raises(serde.MalformedMessage, match="pickle"):
        serde.loads(pickle.dumps({"a": 1}))
    with pytest.raises(serde.UnsupportedType, match="object"):
        serde.dumps({"bad": np.array([object()])})
    with pytest.raises(serde.UnsupportedType, match="function"):
        serde.dumps({"f": len})


def test_key_from_environment(monkeypatch):
    monkeypatch.setenv(serde.KEY_ENV, "from-env")
    data = serde.dumps([1, 2])
    assert serde.loads(data) == [1, 2]
    assert serde.loads(data, key="from-env") == [1, 2]
    monkeypatch.delenv(serde.KEY_ENV)
    with pytest.raises(serde.BadSignature):
        serde.loads(data)


def test_schema_mapping_and_callable():
    data = serde.dumps({"seq": 3, "rms": 1, "name": "x"})
    assert serde.loads(data, schema={"seq": int, "rms": float, "name": (str, type(None))})["seq"] == 3
    with pytest.raises(serde.SchemaError, match="'seq' should be str"):
        serde.loads(data, schema={"seq": str})
    with pytest.raises(serde.SchemaError, match="'missing' is missing"):
        serde.loads(data, schema={"missing": int})
    with pytest.raises(serde.SchemaError, match="expected a mapping"):
        serde.loads(serde.dumps([1]), schema={"seq": int})
    assert serde.loads(data, schema=lambda m: m["seq"] * 2) == 6
    with pytest.raises(serde.SchemaError, match="KeyError"):
        serde.loads(data, schema=lambda m: m["nope"])
    holder = serde.Serde(key=KEY, schema={"seq": int})
    assert holder.loads(holder.dumps({"seq": 1})) == {"seq": 1}


def test_array_dtype_must_be_plain():
    # A hand-built array extension naming an object dtype is refused, never interpreted.
    meta = msgpack.packb(["|O", [1]])
    ext = msgpack.ExtType(1, len(meta).to_bytes(2, "little") + meta + b"\0" * 8)
    with pytest.raises(serde.MalformedMessage, match="dtype '\\|O' is not allowed"):
        serde.loads(b"ZS\x01\x00" + msgpack.packb(ext))
    meta = msgpack.packb(["<f4", [3]])
    ext = msgpack.ExtType(1, len(meta).to_bytes(2, "little") + meta + b"\0" * 8)
    with pytest.raises(serde.MalformedMessage, match="needs 12 bytes, got 8"):
        serde.loads(b"ZS\x01\x00" + msgpack.packb(ext))
    big_endian = np.arange(5, dtype=">i4")
    assert serde.loads(serde.dumps(big_endian)).tolist() == [0, 1, 2, 3, 4]


class _CreatesFile:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_pickle_payload_that_creates_a_file_is_refused(tmp_path):
    target = tmp_path / "pwned"
    payload = pickle.dumps(_CreatesFile(str(target)))
    # The payload is real: pickle runs it.
    pickle.loads(payload).close()
    assert target.exists()
    target.unlink()
    for attempt in (payload, b"ZS\x01\x00" + payload, b"ZS\x01\x00" + msgpack.packb(msgpack.ExtType(1, payload))):
        with pytest.raises(serde.SerdeError):
            serde.loads(attempt)
    assert not target.exists()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=512), st.sampled_from([b"", b"ZS\x01\x00", b"ZS\x01\x01"]), st.sampled_from([None, KEY]))
def test_arbitrary_bytes_only_raise_serde_errors(data, prefix, key):
    try:
        serde.loads(prefix + data, key=key)
    except serde.SerdeError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64).flatmap(lambda tail: st.sampled_from(range(1, 10)).map(lambda code: (code, tail))))
def test_arbitrary_extension_payloads_only_raise_serde_errors(case):
    code, tail = case
    try:
        serde.loads(b"ZS\x01\x00" + msgpack.packb([msgpack.ExtType(code, tail)]))
    except serde.SerdeError:
        pass


_plain = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text() | st.binary(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4)
    | st.tuples(children, children),
    max_leaves=20,
)


@settings(max_examples=60, deadline=None)
@given(_plain)
def test_plain_values_round_trip(value):
    assert serde.loads(serde.dumps(value, key=KEY), key=KEY) == value


# -- the project's own types -------------------------------------------------------------

import dataclasses  # noqa: E402
import enum  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import typing  # noqa: E402


class Role(str, enum.Enum):
    USER = "user"
    ASSISTANT = "assistant"


class StopReason(enum.Enum):
    END_OF_TURN = 1
    OUT_OF_TOKENS = 2


class Span(typing.NamedTuple):
    start: int
    end: int


@dataclasses.dataclass
class InferenceArgs:
    prompt: str
    temperature: float
    role: Role
    stop: StopReason
    span: Span
    embedding: np.ndarray
    deadline: dt.datetime
    history: typing.List["InferenceArgs"] = dataclasses.field(default_factory=list)
    computed: int = dataclasses.field(init=False, default=0)

    def __post_init__(self):
        self.computed = len(self.prompt)


@dataclasses.dataclass(frozen=True)
class TokenResult:
    token: int
    text: str
    logprobs: typing.Optional[typing.List[float]] = None


class GenerationError(Exception):
    """Formats its message from its argument: its args are not its __init__ parameters."""

    def __init__(self, code):
        super().__init__(f"generation failed with code {code}")
        self.code = code


class Overloaded(RuntimeError):
    pass


TYPES = [InferenceArgs, TokenResult, StopReason, Span, Role, GenerationError, Overloaded]


def _args():
    inner = InferenceArgs("earlier", 0.1, Role.ASSISTANT, StopReason.END_OF_TURN, Span(0, 1), np.zeros(2), dt.datetime(2024, 1, 1))
    return InferenceArgs(
        "hello", 0.6, Role.USER, StopReason.OUT_OF_TOKENS, Span(3, 9),
        np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4),
        dt.datetime(2024, 5, 24, 12, 0, tzinfo=dt.timezone.utc), [inner],
    )


def test_nested_dataclasses_with_arrays_datetimes_enums_and_namedtuples_round_trip():
    sent = _args()
    got = serde.loads(serde.dumps(sent, key=KEY, types=TYPES), key=KEY, types=TYPES)
    assert type(got) is InferenceArgs and got.prompt == "hello" and got.computed == 5  # __post_init__ ran
    assert got.role is Role.USER and got.stop is StopReason.OUT_OF_TOKENS
    assert type(got.span) is Span and got.span == (3, 9)
    assert got.embedding.dtype == np.float32 and np.array_equal(got.embedding, sent.embedding)
    assert got.deadline == sent.deadline and got.deadline.tzinfo is not None
    assert type(got.history[0]) is InferenceArgs and got.history[0].stop is StopReason.END_OF_TURN
    # A sender that has not registered the str enum sends its value, equal to the member.
    plain = serde.loads(serde.dumps(sent), types=TYPES)
    assert plain.role == "user" == Role.USER and plain.stop is StopReason.OUT_OF_TOKENS
    results = [TokenResult(i, f"t{i}", [0.5]) for i in range(3)]
    assert serde.loads(serde.dumps(results), types=TYPES) == results


def test_unregistered_types_are_refused_with_a_schema_error():
    data = serde.dumps({"ok": 1, "result": TokenResult(1, "a")})
    with pytest.raises(serde.SchemaError, match="TokenResult', a type this receiver has not registered"):
        serde.loads(data)
    with pytest.raises(serde.SchemaError, match="StopReason"):
        serde.loads(serde.dumps(StopReason.END_OF_TURN))
    # Plain-valued enums and NamedTuples the sender has not registered go as their values.
    assert serde.loads(serde.dumps([Role.USER, Span(1, 2)])) == ["user", (1, 2)]
    assert type(serde.loads(serde.dumps(Span(1, 2)))) is tuple


def test_a_serde_instance_allows_its_own_types():
    channel = serde.Serde(key=KEY, types=[TokenResult])
    assert channel.loads(channel.dumps(TokenResult(7, "x"))) == TokenResult(7, "x")
    other = serde.Serde(key=KEY)
    with pytest.raises(serde.SchemaError):
        other.loads(channel.dumps(TokenResult(7, "x")))
    other.register(TokenResult)
    assert other.loads(channel.dumps(TokenResult(7, "x"))) == TokenResult(7, "x")


def test_fields_that_do_not_rebuild_the_class_are_a_schema_error():
    record = msgpack.ExtType(8, msgpack.packb([serde.type_key(TokenResult), {"token": 1, "txt": "typo"}]))
    with pytest.raises(serde.SchemaError, match="cannot rebuild .*TokenResult.*TypeError"):
        serde.loads(b"ZS\x01\x00" + msgpack.packb(record), types=TYPES)
    record = msgpack.ExtType(8, msgpack.packb([serde.type_key(TokenResult), [1, "a"]]))
    with pytest.raises(serde.SchemaError, match="mapping of its fields"):
        serde.loads(b"ZS\x01\x00" + msgpack.packb(record), types=TYPES)
    record = msgpack.ExtType(8, msgpack.packb([serde.type_key(StopReason), 99]))
    with pytest.raises(serde.SchemaError, match="99 is not a valid StopReason"):
        serde.loads(b"ZS\x01\x00" + msgpack.packb(record), types=TYPES)


def test_exceptions_arrive_as_their_type_or_as_a_remote_error():
    got = serde.loads(serde.dumps([ValueError("bad value", 3), KeyError("k"), Overloaded("busy")]), types=TYPES)
    assert type(got[0]) is ValueError and got[0].args == ("bad value", 3)
    assert type(got[1]) is KeyError and type(got[2]) is Overloaded and str(got[2]) == "busy"
    error = serde.loads(serde.dumps(GenerationError(5)), types=TYPES)
    assert type(error) is GenerationError and str(error) == "generation failed with code 5"
    with pytest.raises(GenerationError):
        raise error
    remote = serde.loads(serde.dumps(GenerationError(5)))
    assert type(remote) is serde.RemoteError and isinstance(remote, Exception)
    assert remote.type_name == serde.type_key(GenerationError) and remote.message == "generation failed with code 5"
    assert str(remote) == f"{serde.type_key(GenerationError)}: generation failed with code 5"
    # Arguments that cannot travel go as their repr; the message always does.
    odd = serde.loads(serde.dumps(RuntimeError("lost", object())))
    assert odd.args[0] == "lost" and odd.args[1].startswith("<object object")


def test_register_checks_what_it_is_given():
    with pytest.raises(serde.UnsupportedType, match="only dataclasses, pydantic models"):
        serde.register(dict)
    with pytest.raises(serde.UnsupportedType, match="takes classes"):
        serde.register(TokenResult(1, "a"))

    @dataclasses.dataclass
    class TokenResult2:
        token: int

    with pytest.raises(serde.SerdeError, match="already registered for builtins.ValueError"):
        serde.register(TokenResult2, name="builtins.ValueError")
    assert serde.Serde().register(TokenResult2, name="tok-v2") is TokenResult2
    decorated = serde.Serde()

    @decorated.register
    @dataclasses.dataclass
    class Local:
        n: int

    assert decorated.loads(decorated.dumps(Local(3))) == Local(3)


def test_the_module_register_is_process_wide_and_works_as_a_decorator():
    @serde.register(name="tests.serde.Ping")
    @dataclasses.dataclass
    class Ping:
        seq: int

    assert serde.loads(serde.dumps(Ping(4))) == Ping(4)
    serde.register(Ping, name="tests.serde.Ping")  # the same again: a no-op


def test_hostile_records_are_refused_and_the_loop_keeps_serving(context):
    """A peer names a type the receiver never registered (one that would run code if the
    decoder imported and built it): refused with SchemaError, nothing imported, next served."""
    pull = context.socket(zmq.PULL)
    push = context.socket(zmq.PUSH)
    for sock in (pull, push):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVTIMEO, TIMEOUT_MS)
    pull.bind("tcp://127.0.0.1:*")
    push.connect(pull.getsockopt(zmq.LAST_ENDPOINT).decode())
    hostile = [
        msgpack.ExtType(8, msgpack.packb(["os.system", "touch /tmp/pwned"])),
        msgpack.ExtType(8, msgpack.packb(["zmqlint_never_imported.Payload", {"cmd": "id"}])),
        msgpack.ExtType(8, msgpack.packb(["builtins.ValueError", ["x"]])),  # an exception key as a record
        msgpack.ExtType(9, msgpack.packb(["subprocess.CalledProcessError", "not a list", "x"])),
    ]
    frames = [serde.dumps(TokenResult(1, "a"))] + [b"ZS\x01\x00" + msgpack.packb(h) for h in hostile]
    frames.append(serde.dumps(TokenResult(2, "b")))
    for frame in frames:
        push.send(frame)
    served, refused = [], []
    for _ in frames:
        try:
            served.append(serde.loads(pull.recv(), types=TYPES).token)
        except serde.SerdeError as exc:
            refused.append(type(exc).__name__)
    push.close()
    pull.close()
    assert served == [1, 2]
    assert refused == ["SchemaError", "SchemaError", "SchemaError", "MalformedMessage"]
    assert "zmqlint_never_imported" not in sys.modules


def test_pydantic_models_v2_and_v1():
    pydantic = pytest.importorskip("pydantic")

    class Message(pydantic.BaseModel):
        role: Role
        content: str
        stop: StopReason
        at: dt.datetime

    class Request(pydantic.BaseModel):
        messages: typing.List[Message]
        temperature: float = 0.6

    sent = Request(messages=[Message(role="user", content="hi", stop=StopReason.END_OF_TURN, at=dt.datetime(2024, 1, 1))])
    # Only the outer model needs registering: validation rebuilds the nested ones, and the
    # enum members inside a model travel as their values.
    got = serde.loads(serde.dumps({"request": sent}), types=[Request])["request"]
    assert got == sent and type(got.messages[0]) is Message and got.messages[0].stop is StopReason.END_OF_TURN
    bad = msgpack.ExtType(8, msgpack.packb([serde.type_key(Request), {"messages": "nope"}]))
    with pytest.raises(serde.SchemaError, match="ValidationError"):
        serde.loads(b"ZS\x01\x00" + msgpack.packb(bad), types=[Request])

    v1 = pytest.importorskip("pydantic.v1")

    class Old(v1.BaseModel):
        n: int
        tags: typing.List[str] = []

    assert serde.loads(serde.dumps(Old(n=3, tags=["a"])), types=[Old]) == Old(n=3, tags=["a"])


def test_works_without_pydantic_and_never_imports_it():
    code = (
        "import sys, dataclasses\n"
        "sys.modules['pydantic'] = None  # an import of pydantic now fails\n"
        "from zmqlint_runtime import serde\n"
        "@dataclasses.dataclass\n"
        "class A:\n    n: int\n"
        "assert serde.loads(serde.dumps(A(1)), types=[A]) == A(1)\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
    out = subprocess.run(
        [sys.executable, "-c", "import sys; from zmqlint_runtime import serde; print('pydantic' in sys.modules)"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.stdout.strip() == "False", out.stderr
