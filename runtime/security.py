"""Fail-closed API keys and CORS allow-lists for HTTP front ends.

Two mistakes open a service's HTTP API to anyone: authentication that quietly switches itself
off when no key is configured, and a CORS policy that lets every web page the operator opens
call the API with the operator's credentials. This module makes the safe choice the default:

``require_api_key(key)``
    Returns the key, or raises `MissingApiKeyError` at start-up when it is missing. For local
    development only, setting the environment variable ``ALLOW_UNAUTHENTICATED=1`` lets the
    service start without a key: the call then logs a warning and returns None.

``allowed_origins()``
    The CORS origin allow-list from ``CORS_ALLOWED_ORIGINS`` (comma separated), empty when
    unset. ``"*"`` is refused when credentials are allowed.

``keys_match(presented, expected)``
    Constant-time comparison of a presented credential with the expected one.

``api_key_dependency`` / ``bearer_dependency`` / ``ApiKeyMiddleware``
    FastAPI dependencies and a Starlette (ASGI) middleware that check an API-key header or an
    ``Authorization: Bearer`` token and answer 401 otherwise. FastAPI and Starlette are imported
    only when these are used, so this module itself needs nothing but the standard library.
"""

# No `from __future__ import annotations` here: FastAPI reads the dependency's annotation
# (`request: Request`) at run time to inject the request, and a string would not resolve.
import hmac
import logging
import os
from typing import Any, Callable, Collection, Iterable, List, Optional, Union
from urllib.parse import urlsplit

__all__ = [
    "ALLOW_UNAUTHENTICATED_ENV",
    "CORS_ALLOWED_ORIGINS_ENV",
    "ApiKeyMiddleware",
    "CorsConfigurationError",
    "MissingApiKeyError",
    "allowed_origins",
    "api_key_dependency",
    "bearer_dependency",
    "bearer_token",
    "keys_match",
    "require_api_key",
]

logger = logging.getLogger(__name__)

#: Setting this environment variable to ``1`` lets a service start without a key (local use).
ALLOW_UNAUTHENTICATED_ENV = "ALLOW_UNAUTHENTICATED"
#: Where `allowed_origins` reads the CORS allow-list from by default.
CORS_ALLOWED_ORIGINS_ENV = "CORS_ALLOWED_ORIGINS"

Credential = Union[str, bytes]


class MissingApiKeyError(RuntimeError):
    """No API key is configured and unauthenticated access was not explicitly allowed."""


class CorsConfigurationError(ValueError):
    """The configured CORS allow-list is malformed or unsafe."""


def _present(key: Optional[Credential]) -> bool:
    if key is None:
        return False
    if isinstance(key, bytes):
        return bool(key.strip())
    return bool(str(key).strip())


def require_api_key(
    key: Optional[Credential],
    *,
    allow_unauthenticated_env: str = ALLOW_UNAUTHENTICATED_ENV,
    what: str = "API key",
) -> Optional[Credential]:
    """Return ``key``; refuse to go on without one.

    A missing key (None, empty or blank) raises `MissingApiKeyError`, so a service that calls
    this while it sets up fails at start-up instead of serving without authentication. The
    one exception is local development: when the environment variable named by
    ``allow_unauthenticated_env`` (``ALLOW_UNAUTHENTICATED`` by default) is exactly ``"1"``,
    a warning is logged and None is returned, and the caller serves unauthenticated.
    """
    if _present(key):
        return key
    if os.environ.get(allow_unauthenticated_env) == "1":
        logger.warning(
            "no %s configured and %s=1: authentication is DISABLED; use this for local development only",
            what,
            allow_unauthenticated_env,
        )
        return None
    raise MissingApiKeyError(
        f"no {what} configured: refusing to start without authentication "
        f"(configure the key; for local development only, set {allow_unauthenticated_env}=1)"
    )


def keys_match(presented: Optional[Credential], expected: Optional[Credential]) -> bool:
    """True when ``presented`` equals ``expected``, compared in constant time.

    A missing presented or expected credential never matches.
    """
    if not _present(presented) or not _present(expected):
        return False
    a = presented.encode("utf-8") if isinstance(presented, str) else bytes(presented)
    b = expected.encode("utf-8") if isinstance(expected, str) else bytes(expected)
    return hmac.compare_digest(a, b)


def bearer_token(authorization: Optional[str]) -> Optional[str]:
    """The token of an ``Authorization: Bearer <token>`` header value, else None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _normalise_origin(origin: str, source: str) -> str:
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CorsConfigurationError(f"{source}: {origin!r} is not an origin like https://app.example.com")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise CorsConfigurationError(f"{source}: {origin!r} is not an origin (scheme://host[:port] only)")
    # Browsers send the origin without a trailing slash; a listed "https://a.example/" would never match.
    return origin.rstrip("/")


def allowed_origins(
    env: str = CORS_ALLOWED_ORIGINS_ENV,
    *,
    allow_credentials: bool = True,
    default: Iterable[str] = (),
) -> List[str]:
    """The CORS origin allow-list: comma-separated origins from the environment variable ``env``.

    Unset or empty means ``default`` (no origin at all unless given): cross-origin browser
    calls are refused until someone lists the origins that may make them. Each entry must be
    ``scheme://host[:port]``. ``"*"`` is refused with `CorsConfigurationError` when
    ``allow_credentials`` is true (the default), because it would let any web page call the
    API with the user's cookies or credentials.
    """
    raw = os.environ.get(env)
    source = f"${env}" if raw and raw.strip() else "default origins"
    entries = raw.split(",") if raw and raw.strip() else list(default)
    origins: List[str] = []
    for entry in entries:
        entry = entry.strip()
        if not entry:
            continue
        if entry == "*" and allow_credentials:
            raise CorsConfigurationError(
                f"{source}: '*' allows every web page to call this API with credentials; list the origins instead"
            )
        origin = _normalise_origin(entry, source)
        if origin not in origins:
            origins.append(origin)
    return origins


# -- FastAPI / Starlette helpers ---------------------------------------------------------------


def _unauthorized(bearer: bool) -> Any:
    from fastapi import HTTPException

    headers = {"WWW-Authenticate": "Bearer"} if bearer else None
    return HTTPException(status_code=401, detail="missing or invalid credentials", headers=headers)


def _make_dependency(expected: Optional[Credential], extract: Callable[[Any], Optional[str]], bearer: bool) -> Callable:
    from starlette.requests import Request

    def check_credentials(request: Request) -> None:
        if expected is None:  # ALLOW_UNAUTHENTICATED=1 at start-up
            return
        if not keys_match(extract(request), expected):
            raise _unauthorized(bearer)

    return check_credentials


def api_key_dependency(
    key: Optional[Credential],
    *,
    header: str = "X-API-Key",
    allow_unauthenticated_env: str = ALLOW_UNAUTHENTICATED_ENV,
) -> Callable:
    """A FastAPI dependency that answers 401 unless the request's ``header`` holds ``key``.

    ``key`` goes through `require_api_key` first, so building the dependency without a key
    fails at start-up. Use it as ``Depends(api_key_dependency(settings.api_key))`` or in
    ``FastAPI(dependencies=[...])``.
    """
    expected = require_api_key(key, allow_unauthenticated_env=allow_unauthenticated_env)
    return _make_dependency(expected, lambda request: request.headers.get(header), bearer=False)


def bearer_dependency(
    token: Optional[Credential],
    *,
    allow_unauthenticated_env: str = ALLOW_UNAUTHENTICATED_ENV,
) -> Callable:
    """A FastAPI dependency that answers 401 unless ``Authorization: Bearer <token>`` is sent."""
    expected = require_api_key(token, allow_unauthenticated_env=allow_unauthenticated_env, what="bearer token")
    return _make_dependency(expected, lambda request: bearer_token(request.headers.get("authorization")), bearer=True)


class ApiKeyMiddleware:
    """ASGI middleware (Starlette, FastAPI) that answers 401 to HTTP requests without the key.

    The key is accepted in the ``header`` (``X-API-Key`` by default) or, when ``bearer`` is
    true, as ``Authorization: Bearer <key>``. Paths in ``exempt_paths`` (e.g. ``/health``)
    and CORS preflight requests (which browsers send without credentials) pass through.
    ``key`` goes through `require_api_key`, so ``app.add_middleware(ApiKeyMiddleware,
    key=None)`` fails at start-up.
    """

    def __init__(
        self,
        app: Callable,
        key: Optional[Credential],
        *,
        header: str = "X-API-Key",
        bearer: bool = True,
        exempt_paths: Collection[str] = (),
        allow_unauthenticated_env: str = ALLOW_UNAUTHENTICATED_ENV,
    ) -> None:
        self.app = app
        self.key = require_api_key(key, allow_unauthenticated_env=allow_unauthenticated_env)
        self.header = header.lower().encode("latin-1")
        self.bearer = bearer
        self.exempt_paths = frozenset(exempt_paths)

    def _presented(self, headers: Iterable) -> Optional[str]:
        found: Optional[str] = None
        for name, value in headers:
            name = name.lower()
            if name == self.header:
                return value.decode("latin-1")
            if self.bearer and name == b"authorization":
                found = bearer_token(value.decode("latin-1"))
        return found

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or self.key is None or scope.get("path") in self.exempt_paths:
            await self.app(scope, receive, send)
            return
        headers = scope.get("headers") or []
        is_preflight = scope.get("method") == "OPTIONS" and any(
            name.lower() == b"access-control-request-method" for name, _ in headers
        )
        if is_preflight or keys_match(self._presented(headers), self.key):
            await self.app(scope, receive, send)
            return
        from starlette.responses import JSONResponse

        response = JSONResponse({"detail": "missing or invalid credentials"}, status_code=401)
        await response(scope, receive, send)
