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
@given(st.binary(max_size=64).flatmap(lambda tail: st.sampled_from(range(1, 8)).map(lambda code: (code, tail))))
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
