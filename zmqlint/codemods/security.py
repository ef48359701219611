"""Rewrites onto ``zmqlint_runtime.security`` (SEC402 fail-open auth, SEC403 wildcard CORS).

Both fixes insert a call of the runtime module and import it: ``from zmqlint_runtime.security
import require_api_key`` (or ``allowed_origins``), or ``import zmqlint_runtime.security`` and
the qualified call when the module already uses that name for something else.

- SEC402: the key a setup path tests is routed through ``require_api_key(key)``, which returns
  it, or raises at start-up when it is missing (unless ``ALLOW_UNAUTHENTICATED=1``, where it
  returns None and the old unauthenticated branch runs, on purpose and logged).
- SEC403: a wildcard origin list becomes ``allowed_origins()`` (the allow-list from
  ``$CORS_ALLOWED_ORIGINS``, empty by default).
"""

from __future__ import annotations

import re
from typing import List, Optional, Sequence, Set, Tuple

import libcst as cst
from libcst.metadata import ParentNodeProvider, ScopeProvider

from zmqlint.model import ImportSpec

RUNTIME_MODULE = "zmqlint_runtime.security"

#: Origins no allow-list meant to admit; a pattern matching all of them matches any origin.
_PROBE_ORIGINS = ("https://evil.example", "http://attacker.invalid:8080", "null")


def code_of(node: cst.CSTNode) -> str:
    """The source text of ``node``."""
    return cst.Module(body=[]).code_for_node(node)


def assigned_value(visitor: cst.MetadataDependent, name: cst.Name) -> Optional[cst.BaseExpression]:
    """The value of the one assignment binding ``name`` where it is used, else None.

    ``visitor`` must declare ``ScopeProvider`` and ``ParentNodeProvider``. Where the name is
    bound more than once (or by an import, a parameter, a loop) there is no single value.
    """
    scope = visitor.get_metadata(ScopeProvider, name, None)
    if scope is None:
        return None
    assignments = list(scope[name.value])
    if len(assignments) != 1 or not isinstance(getattr(assignments[0], "node", None), cst.Name):
        return None
    parent = visitor.get_metadata(ParentNodeProvider, assignments[0].node, None)
    if isinstance(parent, cst.AssignTarget):
        owner = visitor.get_metadata(ParentNodeProvider, parent, None)
        if isinstance(owner, cst.Assign) and len(owner.targets) == 1:
            return owner.value
    if isinstance(parent, cst.AnnAssign):
        return parent.value
    return None


def runtime_call(func: str, args: Sequence[cst.Arg], taken: Set[str]) -> Tuple[cst.Call, ImportSpec]:
    """``func(args)`` from the runtime module, and the import it needs.

    ``taken`` holds the names the module already uses; the bare name is only imported when
    the module holds no other meaning for it (or already imports it from the runtime).
    """
    if func in taken:
        callee: cst.BaseExpression = cst.parse_expression(f"{RUNTIME_MODULE}.{func}")
        spec = ImportSpec(RUNTIME_MODULE)
    else:
        callee = cst.Name(func)
        spec = ImportSpec(RUNTIME_MODULE, func)
    comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
    args = list(args)
    args = [a.with_changes(comma=comma) for a in args[:-1]] + [a.with_changes(comma=cst.MaybeSentinel.DEFAULT) for a in args[-1:]]
    return cst.Call(func=callee, args=args), spec


def require_api_key_call(key: cst.BaseExpression, taken: Set[str]) -> Tuple[cst.Call, ImportSpec]:
    """``require_api_key(key)``."""
    return runtime_call("require_api_key", [cst.Arg(value=key)], taken)


def allowed_origins_call(taken: Set[str], env: Optional[str] = None) -> Tuple[cst.Call, ImportSpec]:
    """``allowed_origins()``, or ``allowed_origins("ENV")`` to keep reading another variable."""
    args: List[cst.Arg] = [cst.Arg(value=cst.SimpleString(_quote(env)))] if env else []
    return runtime_call("allowed_origins", args, taken)


def keyword_arg(name: str, value: cst.BaseExpression) -> cst.Arg:
    """``name=value`` as a call argument."""
    return cst.Arg(
        keyword=cst.Name(name),
        value=value,
        equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace("")),
    )


def with_keyword_arg(call: cst.Call, arg: cst.Arg) -> cst.Call:
    """``call`` with ``arg`` appended after its last argument (keeping a trailing comma style)."""
    args = list(call.args)
    if not args:
        return call.with_changes(args=[arg])
    last = args[-1]
    if isinstance(last.comma, cst.Comma):
        # Multi-line call with a trailing comma: put the new argument on its own line the same way.
        args.append(arg.with_changes(comma=last.comma))
    else:
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args.append(arg)
    return call.with_changes(args=args)


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def matches_any_origin(pattern: str, *, full: bool = True) -> bool:
    """True when the origin regex ``pattern`` admits every probe origin (an ``evil.example``)."""
    try:
        compiled = re.compile(pattern)
    except (re.error, RecursionError, OverflowError):
        return False
    match = compiled.fullmatch if full else compiled.match
    return all(match(origin) for origin in _PROBE_ORIGINS[:2])
