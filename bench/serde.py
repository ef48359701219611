"""Throughput of zmqlint_runtime.serde against pickle and plain msgpack.

Each round trip is ``dumps`` then ``loads`` of one message, for three payloads:

* a ~1 KB dict of mixed scalars, strings and a small list (a typical control message);
* a 1 MB float32 numpy array inside a small dict (an audio / feature frame);
* a dataclass-heavy message: a batch of 32 token results (dataclasses holding an enum, a
  datetime and a small float32 array each) inside a request dataclass (an LLM-serving
  stream); plain msgpack sends each dataclass as a dict of its fields and rebuilds it by
  calling the class, the way a hand-written encoder would.

"plain msgpack" is the best a hand-written encoder does without safety checks: ``packb`` /
``unpackb``, with the array sent as dtype + shape + raw bytes and rebuilt with
``np.frombuffer``. serde is measured without and with HMAC-SHA256. The target: serde with
HMAC reaches at least half of plain msgpack's throughput.

Run: ``python bench/serde.py [--seconds 1.0]``. Prints a table (MB/s and messages/s, median
of 5 runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import enum
import pickle
import statistics
import time
from typing import Any, Callable, Dict, List, Tuple

import msgpack
import numpy as np

from zmqlint_runtime import serde

KEY = b"bench-key-0123456789abcdef"


def small_dict() -> Dict[str, Any]:
    message = {
        "agent": "audio_preprocessor",
        "action": "ingest",
        "seq": 123456,
        "sample_rate": 16000,
        "rms": 0.12345,
        "captured_at": 1716552000.123,
        "labels": ["speech", "near-field", "en-US"],
        "scores": [0.1 * i for i in range(40)],
        "meta": {"host": "gpu-node-07", "pid": 4242, "retries": 0, "ok": True, "note": "x" * 450},
    }
    assert 900 <= len(msgpack.packb(message)) <= 1200, len(msgpack.packb(message))
    return message


def array_message() -> Dict[str, Any]:
    return {"seq": 1, "samples": np.random.default_rng(0).standard_normal(262144).astype(np.float32)}


class Stop(enum.Enum):
    END_OF_TURN = 1
    LENGTH = 2


@dataclasses.dataclass
class TokenResult:
    token: int
    text: str
    logprobs: np.ndarray
    at: datetime.datetime
    stop: Stop = None


@dataclasses.dataclass
class Batch:
    request_id: str
    model: str
    tokens: List[TokenResult]


serde.register(Stop, TokenResult, Batch)
_CLASSES = {cls.__name__: cls for cls in (TokenResult, Batch)}


def dataclass_message() -> Batch:
    at = datetime.datetime(2024, 5, 24, 12, 0, tzinfo=datetime.timezone.utc)
    rng = np.random.default_rng(0)
    tokens = [
        TokenResult(i, f"tok{i}", rng.standard_normal(8).astype(np.float32), at, Stop.END_OF_TURN if i == 31 else None)
        for i in range(32)
    ]
    return Batch("req-0001", "llama-3-8b", tokens)


def _plain_default(obj):
    if isinstance(obj, np.ndarray):
        return {"__nd__": True, "dtype": obj.dtype.str, "shape": list(obj.shape), "data": obj.tobytes()}
    if dataclasses.is_dataclass(obj):
        return {"__dc__": type(obj).__name__, **{f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}}
    if isinstance(obj, Stop):
        return {"__enum__": obj.value}
    if isinstance(obj, datetime.datetime):
        return {"__dt__": obj.timestamp()}
    raise TypeError(type(obj))


def _plain_hook(obj):
    if obj.get("__nd__"):
        return np.frombuffer(obj["data"], dtype=obj["dtype"]).reshape(obj["shape"])
    if "__dc__" in obj:
        cls = _CLASSES[obj.pop("__dc__")]
        return cls(**obj)
    if "__enum__" in obj:
        return Stop(obj["__enum__"])
    if "__dt__" in obj:
        return datetime.datetime.fromtimestamp(obj["__dt__"], datetime.timezone.utc)
    return obj


CODECS: Dict[str, Tuple[Callable[[Any], bytes], Callable[[bytes], Any]]] = {
    "pickle": (lambda o: pickle.dumps(o, protocol=pickle.HIGHEST_PROTOCOL), pickle.loads),
    "plain msgpack": (
        lambda o: msgpack.packb(o, default=_plain_default),
        lambda b: msgpack.unpackb(b, object_hook=_plain_hook),
    ),
    "serde": (serde.dumps, serde.loads),
    "serde + HMAC": (lambda o: serde.dumps(o, key=KEY), lambda b: serde.loads(b, key=KEY)),
}


def round_trips_per_second(codec, message, seconds: float) -> Tuple[float, int]:
    dumps, loads = codec
    size = len(dumps(message))
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            loads(dumps(message))
        count += 10
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start), size


def main(argv: List[str] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per cell (median)")
    args = parser.parse_args(argv)
    payloads = {"1 KB dict": small_dict(), "1 MB float32 array": array_message(), "32 dataclasses": dataclass_message()}
    sample = dataclass_message()
    for codec_name, (dumps, loads) in CODECS.items():
        back = loads(dumps(sample))
        assert type(back) is Batch and type(back.tokens[0]) is TokenResult and back.tokens[31].stop is Stop.END_OF_TURN, codec_name
    print(f"{'payload':<20} {'codec':<15} {'msg/s':>10} {'MB/s':>9} {'vs plain msgpack':>17}")
    for name, message in payloads.items():
        results = {}
        for codec_name, codec in CODECS.items():
            rates = []
            for _ in range(args.repeat):
                rate, size = round_trips_per_second(codec, message, args.seconds)
                rates.append(rate)
            results[codec_name] = (statistics.median(rates), size)
        base = results["plain msgpack"][0]
        for codec_name, (rate, size) in results.items():
            print(f"{name:<20} {codec_name:<15} {rate:>10.0f} {rate * size / 1e6:>9.1f} {rate / base:>16.2f}x")
    hashed = 1 << 20
    blob = bytes(hashed)
    start = time.perf_counter()
    for _ in range(50):
        serde.hmac.digest(KEY, blob, "sha256")
    print(f"\nHMAC-SHA256 alone on this machine: {50 * hashed / (time.perf_counter() - start) / 1e6:.0f} MB/s")


if __name__ == "__main__":
    main()
