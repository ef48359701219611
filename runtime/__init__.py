"""zmqlint_runtime: the small library zmqlint's fixes rewrite code onto.

Modules: ``sockets`` (bind-once servers, connect-only clients), ``serde`` (msgpack framing with
optional HMAC), ``aio`` (start/stop of sync or async components), ``threads`` (stop-aware
workers), ``leases`` (GPU memory leases), ``alerts`` (safe comparison conditions), ``security``
(fail-closed API keys, CORS allow-lists). Import the module you need; nothing is imported here
eagerly, so ``import zmqlint_runtime.alerts`` costs nothing else.
"""

__version__ = "0.1.0"
