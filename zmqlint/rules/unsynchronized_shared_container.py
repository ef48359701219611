from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from zmqlint.codemods.queues import queue_fix
from zmqlint.codemods.threads import NodeFinder
from zmqlint.facts.shared_containers import Hazard, call_of, hazards
from zmqlint.index import ProjectIndex
from zmqlint.model import Applicability, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts


class UnsynchronizedSharedContainer(NodeFinder, Rule):
    """Flags lists, dicts and deques shared with a thread without a lock.

    ## What it does
    For a class that runs a thread body (a `Thread` target, `Timer` function, `run()` of a
    `Thread` subclass, a function given to an executor, and what they call on `self`), looks at
    every `list` / `dict` / `deque` attribute used both by that thread side and by the class's
    other methods, and reports it when no lock is held in common and:

    - some code checks the container and then acts on it outside one lock — always a race.
      The check is a truthiness test, `len(x) > 0`, `len(x) >= n` or `k in d`; the act a
      `pop()`, `pop(0)`, `popleft()`, `del x[0]`, `del d[k]`, `d.pop(k)`, `x.remove(...)` or a
      read `x[0]` / `d[k]`. Every spelling counts: `if x: <act>`, `while x: <act>`,
      `x and x.pop()`, `x.pop(0) if x else None`, `if not x: ... else: <act>`, and a guard or a
      wait followed by the act (`if not x: time.sleep(0.1); continue` then `x.pop(0)`); or
    - the thread changes its size while other code iterates it; or
    - the thread iterates it while other code (not set-up code that runs before the thread
      starts, such as `__init__` or `register_*`; when `__init__` itself starts the thread,
      set-up methods run alongside it) changes its size.

    The thread side is the target and every method it calls on `self`, transitively; a
    thread started in `__init__`, in another method or by `Thread.start()` of a subclass, and
    loops written `while True:` or `while 1:`, are all the same.

    Uses under a common `with self._lock:` (any `Lock`, `RLock`, `Condition` or `Semaphore`
    attribute) are silent, and so are thread-safe types (`queue.Queue` and friends). Replacing
    an item of a list or deque (`x[i] = v`) does not change its size, and an iteration in the
    child's branch after `os.fork()` runs with no other thread: neither is an iteration race.

    ## Why is this bad?
    Each list operation is atomic, a check followed by an act is not: between `len(x) > 0`
    and `x.pop(0)` another thread can take the last item, and the pop raises `IndexError` —
    in the field report, audio chunks of the face-recognition agent's `voice_buffer` were
    lost this way. Iterating a dict while another thread inserts raises `RuntimeError:
    dictionary changed size during iteration`.

    ## Example
    ```python
    def _process_voice_buffer(self):
        while not self._stop.is_set():
            if len(self.voice_buffer) > 0:
                chunk = self.voice_buffer.pop(0)
                self.handle(chunk)
            else:
                time.sleep(0.01)
    ```

    ## Use instead
    ```python
    def _process_voice_buffer(self):
        while not self._stop.is_set():
            try:
                chunk = self.voice_buffer.get_nowait()   # self.voice_buffer = queue.Queue()
            except queue.Empty:
                time.sleep(0.01)
            else:
                self.handle(chunk)
    ```

    ## Fix safety
    The fix is unsafe: it changes the attribute's type, which code outside the class may see.
    It is offered for a list (or deque) used as a FIFO when every use in the class converts:
    `self.x = []` -> `queue.Queue()`, `append` -> `put`, `len(x)` -> `x.qsize()`, `if x` ->
    `if not x.empty()`, and each `pop(0)` / `popleft()` either as the first statement of a
    check-then-act (which becomes `try: ...get_nowait() except queue.Empty: <else branch>`)
    or inside a `try` that handles `IndexError` (which then also handles `queue.Empty`).
    Anything else (indexing, iteration, `pop()` from the end, other assignments) is reported
    only: guard every use with one `threading.Lock` instead.
    """

    CODE = "THR502"
    NAME = "unsynchronized-shared-container"
    SEVERITY = Severity.MEDIUM
    MESSAGE = "Container shared with a thread without a lock"
    FIXES = (Applicability.UNSAFE,)
    # Thread bodies may come from a base class in another module: any class may qualify.
    PREFILTER = ("class",)

    VALID = [
        Valid(
            """
            import threading

            class Buffer:
                def __init__(self):
                    self._lock = threading.Lock()
                    self.items = []
                    threading.Thread(target=self._drain, daemon=True).start()

                def _drain(self):
                    with self._lock:
                        if self.items:
                            self.items.pop(0)

                def add(self, item):
                    with self._lock:
                        self.items.append(item)
            """
        ),
        Valid(
            """
            import queue, threading

            class Buffer:
                def __init__(self):
                    self.items = queue.Queue()
                    threading.Thread(target=self._drain, daemon=True).start()

                def _drain(self):
                    while True:
                        self.items.get()

                def add(self, item):
                    self.items.put(item)
            """
        ),
        # Filled before the thread starts, only read by it.
        Valid(
            """
            import threading

            class Server:
                def __init__(self):
                    self._handlers = {}
                    self._thread = None

                def register(self, name, handler):
                    self._handlers[name] = handler

                def start(self):
                    self._thread = threading.Thread(target=self._serve)
                    self._thread.start()

                def _serve(self):
                    for name, handler in self._handlers.items():
                        handler()
            """
        ),
        # Appended by one side, popped in try/except IndexError by the other: atomic operations.
        Valid(
            """
            import threading

            class Inbox:
                def __init__(self):
                    self.messages = []
                    threading.Thread(target=self._consume).start()

                def _consume(self):
                    try:
                        message = self.messages.pop(0)
                    except IndexError:
                        message = None

                def post(self, message):
                    self.messages.append(message)
            """
        ),
        # Check and act under one lock, the producer under the same lock.
        Valid(
            """
            import threading, time

            class Buffer:
                def __init__(self):
                    self._lock = threading.Lock()
                    self.items = []
                    threading.Thread(target=self._drain, daemon=True).start()

                def _drain(self):
                    while 1:
                        with self._lock:
                            if not self.items:
                                continue
                            item = self.items.pop(0)
                        time.sleep(0)

                def add(self, item):
                    with self._lock:
                        self.items.append(item)
            """
        ),
        # A guard that does not leave: what follows runs whether the list is empty or not.
        Valid(
            """
            import threading

            class Inbox:
                def __init__(self):
                    self.messages = []
                    threading.Thread(target=self._consume, daemon=True).start()

                def _consume(self):
                    while True:
                        if not self.messages:
                            self.idle()
                        try:
                            self.messages.pop(0)
                        except IndexError:
                            pass

                def post(self, message):
                    self.messages.append(message)
            """
        ),
    ]

    INVALID = [
        Invalid(
            """
            import threading
            import time


            class FaceRecognitionAgent:
                def __init__(self):
                    self.voice_buffer = []
                    self._voice_thread = None

                def start(self):
                    self._voice_thread = threading.Thread(target=self._process_voice_buffer, daemon=True)
                    self._voice_thread.start()

                def _process_voice_buffer(self):
                    while True:
                        if len(self.voice_buffer) > 0:
                            chunk = self.voice_buffer.pop(0)
                            self.identify(chunk)
                        else:
                            time.sleep(0.01)

                def handle_request(self, request):
                    if request["action"] == "enqueue_voice":
                        self.voice_buffer.append(request["samples"])
                    return {"queued": len(self.voice_buffer)}
            """,
            line=17,
            column=25,
            end_column=49,
            message_contains="check-then-act",
            expected_fix=None,
            expected_unsafe_fix="""
            import threading
            import time
            import queue


            class FaceRecognitionAgent:
                def __init__(self):
                    self.voice_buffer = queue.Queue()
                    self._voice_thread = None

                def start(self):
                    self._voice_thread = threading.Thread(target=self._process_voice_buffer, daemon=True)
                    self._voice_thread.start()

                def _process_voice_buffer(self):
                    while True:
                        try:
                            chunk = self.voice_buffer.get_nowait()
                        except queue.Empty:
                            time.sleep(0.01)
                        else:
                            self.identify(chunk)

                def handle_request(self, request):
                    if request["action"] == "enqueue_voice":
                        self.voice_buffer.put(request["samples"])
                    return {"queued": self.voice_buffer.qsize()}
            """,
        ),
        # A drain loop over a deque, and an IndexError handler.
        Invalid(
            """
            import collections
            import threading


            class Sender(threading.Thread):
                def __init__(self):
                    super().__init__(daemon=True)
                    self.outbox = collections.deque()

                def run(self):
                    while self.outbox:
                        message = self.outbox.popleft()
                        print(message)

                def send(self, message):
                    self.outbox.append(message)

                def take_one(self):
                    try:
                        return self.outbox.popleft()
                    except IndexError:
                        return None
            """,
            line=12,
            expected_unsafe_fix="""
            import collections
            import threading
            import queue


            class Sender(threading.Thread):
                def __init__(self):
                    super().__init__(daemon=True)
                    self.outbox = queue.Queue()

                def run(self):
                    while True:
                        try:
                            message = self.outbox.get_nowait()
                        except queue.Empty:
                            break
                        print(message)

                def send(self, message):
                    self.outbox.put(message)

                def take_one(self):
                    try:
                        return self.outbox.get_nowait()
                    except (IndexError, queue.Empty):
                        return None
            """,
        ),
        # A dict iterated by other code while the thread inserts: reported, not converted.
        Invalid(
            """
            import threading
            import time


            class Monitor:
                def __init__(self):
                    self.last_seen = {}
                    self._thread = threading.Thread(target=self._listen, daemon=True)
                    self._thread.start()

                def _listen(self):
                    while True:
                        peer = self.receive()
                        self.last_seen[peer] = time.monotonic()

                def report(self):
                    return [peer for peer, seen in self.last_seen.items() if seen > 0]
            """,
            line=17,
            message_contains="iterates",
            expected_fix=None,
        ),
        # Each step locked, but the check and the act under different lock blocks.
        Invalid(
            """
            import threading


            class Jobs:
                def __init__(self):
                    self._lock = threading.Lock()
                    self.pending = []

                def start(self):
                    threading.Thread(target=self._work).start()

                def _work(self):
                    if self.pending:
                        with self._lock:
                            job = self.pending.pop()

                def add(self, job):
                    with self._lock:
                        self.pending.append(job)
            """,
            line=15,
            expected_fix=None,
        ),
        # `x and x.pop(0)` in a method the thread target calls, while other code clears it.
        Invalid(
            """
            import threading


            class Collector:
                def __init__(self):
                    self.samples = []
                    self._thread = threading.Thread(target=self._loop, daemon=True)
                    self._thread.start()

                def _loop(self):
                    while 1:
                        self._publish_one()

                def _publish_one(self):
                    sample = self.samples and self.samples.pop(0)
                    if sample:
                        self.publish(sample)

                def record(self, sample):
                    self.samples.append(sample)

                def reset(self):
                    self.samples.clear()
            """,
            line=15,
            column=35,
            end_column=54,
            message_contains="between the check on line 15 and this pop",
            expected_fix=None,
        ),
        # A guard then the act below it, in a `while 1:` loop of a thread started in `__init__`.
        Invalid(
            """
            import threading
            import time


            class Uploader:
                def __init__(self):
                    self.pending = []
                    threading.Thread(target=self._upload_forever, daemon=True).start()

                def _upload_forever(self):
                    while 1:
                        if not self.pending:
                            time.sleep(0.05)
                            continue
                        self.send(self.pending[0])
                        self.pending.pop(0)

                def submit(self, blob):
                    self.pending.append(blob)

                def cancel_all(self):
                    while self.pending:
                        del self.pending[0]
            """,
            line=15,
            column=23,
            end_column=35,
            message_contains="between the check on line 12 and this read",
            expected_fix=None,
        ),
        # A dict: `k in d` then `d[k]` and `del d[k]` while other code pops keys.
        Invalid(
            """
            import threading


            class Pending:
                def __init__(self):
                    self.callbacks = {}

                def start(self):
                    threading.Thread(target=self._dispatch, daemon=True).start()

                def _dispatch(self):
                    while True:
                        reply_id, reply = self.receive()
                        if reply_id in self.callbacks:
                            callback = self.callbacks[reply_id]
                            del self.callbacks[reply_id]
                            callback(reply)

                def expect(self, reply_id, callback):
                    self.callbacks[reply_id] = callback

                def cancel(self, reply_id):
                    self.callbacks.pop(reply_id, None)
            """,
            line=15,
            message_contains="another thread can remove the key between the check on line 14",
            expected_fix=None,
        ),
        # `register_*` after `__init__` started the thread that iterates the handlers.
        Invalid(
            """
            import threading


            class Dispatcher:
                def __init__(self):
                    self.handlers = {}
                    threading.Thread(target=self._serve, daemon=True).start()

                def register_handler(self, name, handler):
                    self.handlers[name] = handler

                def _serve(self):
                    while True:
                        for name, handler in self.handlers.items():
                            handler()
            """,
            line=14,
            message_contains="a thread iterates `self.handlers` while other code (line 10) changes it",
            expected_fix=None,
        ),
    ]

    @classmethod
    def gate(cls, facts: "FileFacts") -> bool:
        # Exactly the rule's own question, on the stdlib ast (memoised for the rule to reuse):
        # a class of this file that runs a thread body (`thread_side`, whose starts may come
        # from a base class in another module) with a container hazard reported in this file.
        info = facts.module
        if info is None:
            return True
        return bool(info.classes) and bool(hazards(facts.index, info))

    def leave_Module(self, original_node: cst.Module) -> None:
        info = self.context.module_info
        if info is None:
            return
        index: ProjectIndex = self.context.index
        for hazard in hazards(index, info):
            self._report(index, hazard)

    def _report(self, index: ProjectIndex, hazard: Hazard) -> None:
        call = call_of(hazard.use)
        node = self.cst_node("expr", call) if call is not None else None
        if node is None:
            node = self.cst_node("attr", hazard.use.node)
        if node is None:
            return
        fix = queue_fix(self, index, self.context.module_info, hazard.cls, hazard.container)
        self.report(node, hazard.message, fix=fix)
