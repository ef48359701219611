"""`zmqlint server` driven over stdio with real LSP messages."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

BUGGY = 'def check(v, c):\n    return eval(f"{v} {c}")\n'


class LspClient:
    def __init__(self, cwd: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "zmqlint", "server"],
            cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        self.messages: "queue.Queue[dict]" = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.proc.stdout
        while True:
            header = b""
            while not header.endswith(b"\r\n\r\n"):
                byte = stream.read(1)
                if not byte:
                    return
                header += byte
            length = int(next(l for l in header.decode().split("\r\n") if l.lower().startswith("content-length")).split(":")[1])
            self.messages.put(json.loads(stream.read(length)))

    def send(self, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.proc.stdin.write(f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        self.proc.stdin.flush()

    def request(self, method: str, params: dict) -> dict:
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params})
        return self.wait(lambda m: m.get("id") == self.next_id and "method" not in m)

    def notify(self, method: str, params: dict) -> None:
        self.send({"jsonrpc": "2.0", "method": method, "params": params})

    def wait(self, predicate, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                message = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if predicate(message):
                return message
        raise AssertionError("no matching LSP message within the timeout")


def test_diagnostics_and_quick_fix_over_stdio(tmp_path):
    path = tmp_path / "metrics.py"
    path.write_text(BUGGY)
    uri = path.as_uri()
    client = LspClient(tmp_path)
    try:
        init = client.request("initialize", {"processId": None, "rootUri": tmp_path.as_uri(), "capabilities": {}})
        assert init["result"]["serverInfo"]["name"] == "zmqlint"
        assert init["result"]["capabilities"]["codeActionProvider"]
        client.notify("initialized", {})
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": BUGGY}},
        )
        published = client.wait(lambda m: m.get("method") == "textDocument/publishDiagnostics")
        (diag,) = published["params"]["diagnostics"]
        assert diag["code"] == "SEC401"
        assert diag["range"]["start"] == {"line": 1, "character": 11}
        assert diag["source"] == "zmqlint"

        actions = client.request(
            "textDocument/codeAction",
            {"textDocument": {"uri": uri}, "range": diag["range"], "context": {"diagnostics": [diag]}},
        )["result"]
        quick = next(a for a in actions if a["kind"] == "quickfix")
        assert quick["title"].startswith("SEC401")
        (edit,) = quick["edit"]["changes"][uri]
        assert "alerts.compare(v, c)" in edit["newText"]
        compile(edit["newText"], "fixed.py", "exec")

        # The editor's text, not the file on disk, is what gets linted.
        fixed_text = edit["newText"]
        client.notify(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": fixed_text}]},
        )
        cleared = client.wait(
            lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == 2
        )
        assert cleared["params"]["diagnostics"] == []
        assert path.read_text() == BUGGY

        assert client.request("shutdown", None)["result"] is None
        client.notify("exit", None)
        assert client.proc.wait(timeout=10) == 0
    finally:
        if client.proc.poll() is None:
            client.proc.kill()
            client.proc.wait(timeout=10)
