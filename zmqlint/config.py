"""Configuration: `[tool.zmqlint]` in the nearest `pyproject.toml`, plus command-line overrides.

No configuration is needed for the default run. Every problem in a configuration is a
`ConfigError` naming the offending key, which the CLI turns into exit status 2.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import pathspec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from zmqlint import __version__

#: Folders never worth linting: VCS data, virtualenvs, build and cache output.
DEFAULT_EXCLUDE = [
    ".git/",
    ".hg/",
    ".svn/",
    ".tox/",
    ".nox/",
    ".venv/",
    "venv/",
    ".eggs/",
    "*.egg-info/",
    "__pycache__/",
    ".mypy_cache/",
    ".pytest_cache/",
    ".ruff_cache/",
    ".zmqlint_cache/",
    "build/",
    "dist/",
    "node_modules/",
]


class ConfigError(Exception):
    """A configuration problem; the message names the key."""


#: Core settings: key -> (accepted type, default).
CORE_KEYS: Dict[str, tuple] = {
    "select": (list, None),
    "extend-select": (list, []),
    "ignore": (list, []),
    "per-file-ignores": (dict, {}),
    "exclude": (list, []),
    "extend-exclude": (list, []),
    "src": (list, []),
    "cache-dir": (str, None),
}


@lru_cache(maxsize=None)
def rule_options() -> Dict[str, Any]:
    """Every rule's settings: key -> Option."""
    from zmqlint.rules import all_rules

    options: Dict[str, Any] = {}
    for rule in all_rules().values():
        for key, option in rule.OPTIONS.items():
            options[key] = option
    return options


def validate_selector(selector: str, where: str) -> str:
    from zmqlint.rules import known_codes

    sel = selector.strip().upper()
    if sel == "ALL":
        return sel
    if not sel or not any(code.startswith(sel) for code in known_codes()):
        raise ConfigError(f"{where}: unknown rule code or prefix '{selector}'")
    return sel


def _check_type(key: str, value: Any, expected: Any) -> None:
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return
    if isinstance(value, bool) and expected is not bool and expected != (bool,):
        raise ConfigError(f"[tool.zmqlint] '{key}' must be {_type_name(expected)}, not a boolean")
    if not isinstance(value, expected):
        raise ConfigError(f"[tool.zmqlint] '{key}' must be {_type_name(expected)}, got {type(value).__name__}")


def _type_name(expected: Any) -> str:
    names = {list: "a list", dict: "a table", str: "a string", int: "an integer", float: "a number", bool: "a boolean"}
    if isinstance(expected, tuple):
        return " or ".join(names.get(t, t.__name__) for t in expected)
    return names.get(expected, expected.__name__)


@dataclass
class Config:
    """The effective configuration of one run."""

    root: Path
    path: Optional[Path] = None  # the pyproject.toml it came from, if any
    select: Optional[List[str]] = None
    extend_select: List[str] = field(default_factory=list)
    ignore: List[str] = field(default_factory=list)
    per_file_ignores: Dict[str, List[str]] = field(default_factory=dict)
    exclude: List[str] = field(default_factory=list)
    extend_exclude: List[str] = field(default_factory=list)
    src: List[str] = field(default_factory=list)
    cache_dir: Optional[str] = None
    #: Rule settings the configuration sets (`option()` falls back to the rules' defaults).
    options: Dict[str, Any] = field(default_factory=dict)

    # -- loading ---------------------------------------------------------------------------

    @classmethod
    def discover(cls, paths: Sequence[Path], explicit: Optional[Path] = None) -> "Config":
        """The configuration for a run over ``paths``: ``explicit`` if given, else the nearest
        `pyproject.toml` with a `[tool.zmqlint]` table above the first path, else defaults."""
        if explicit is not None:
            return cls.from_file(explicit)
        try:
            start = Path(paths[0]).resolve() if paths else Path.cwd()
        except (OSError, RuntimeError):  # a symbolic link loop: look from where the link is
            start = Path(paths[0]).absolute()
        if start.is_file() or not start.exists():
            start = start.parent
        fallback_root = None
        for folder in [start, *start.parents]:
            candidate = folder / "pyproject.toml"
            if candidate.is_file():
                try:
                    data = tomllib.loads(candidate.read_text(encoding="utf-8"))
                except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
                    raise ConfigError(f"{candidate}: cannot read: {exc}") from exc
                if "zmqlint" in data.get("tool", {}):
                    return cls.from_table(data["tool"]["zmqlint"], root=folder, path=candidate)
                fallback_root = fallback_root or folder
            if (folder / ".git").exists():
                fallback_root = fallback_root or folder
                break
        return cls.from_table({}, root=fallback_root or Path.cwd().resolve())

    @classmethod
    def from_file(cls, path: Path) -> "Config":
        path = Path(path).resolve()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read: {exc}") from exc
        table = data.get("tool", {}).get("zmqlint", data if path.name != "pyproject.toml" else {})
        return cls.from_table(table, root=path.parent, path=path)

    @classmethod
    def from_table(cls, table: Mapping[str, Any], *, root: Path, path: Optional[Path] = None) -> "Config":
        if not isinstance(table, Mapping):
            raise ConfigError("[tool.zmqlint] must be a table")
        config = cls(root=Path(root).resolve(), path=path)
        # The rules (and LibCST with them) are imported only when the table sets a rule
        # setting, so a run that needs no linting (everything cached) starts fast.
        options = None
        for key, value in table.items():
            if key in CORE_KEYS:
                _check_type(key, value, CORE_KEYS[key][0])
                config._set_core(key, value)
                continue
            options = rule_options() if options is None else options
            if key in options:
                _check_type(key, value, options[key].type)
                config.options[key] = value
            else:
                raise ConfigError(f"[tool.zmqlint] unknown key '{key}'")
        return config

    def _set_core(self, key: str, value: Any) -> None:
        if isinstance(value, list) and not all(isinstance(v, str) for v in value):
            raise ConfigError(f"[tool.zmqlint] '{key}' must be a list of strings")
        if key in ("select", "extend-select", "ignore"):
            value = [validate_selector(v, f"[tool.zmqlint] '{key}'") for v in value]
        if key == "per-file-ignores":
            checked = {}
            for pattern, codes in value.items():
                if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                    raise ConfigError(f"[tool.zmqlint] 'per-file-ignores' entry '{pattern}' must be a list of codes")
                checked[pattern] = [validate_selector(c, f"[tool.zmqlint] 'per-file-ignores' '{pattern}'") for c in codes]
            value = checked
        setattr(self, key.replace("-", "_"), value)

    def with_overrides(
        self,
        *,
        select: Optional[Iterable[str]] = None,
        extend_select: Optional[Iterable[str]] = None,
        ignore: Optional[Iterable[str]] = None,
        options: Optional[Mapping[str, Any]] = None,
    ) -> "Config":
        """Command-line values on top of the file's (``--select`` replaces, ``--ignore`` adds)."""
        if select:
            self.select = [validate_selector(s, "--select") for s in select]
        if extend_select:
            self.extend_select = self.extend_select + [validate_selector(s, "--extend-select") for s in extend_select]
        if ignore:
            self.ignore = self.ignore + [validate_selector(s, "--ignore") for s in ignore]
        if options:
            known = rule_options()
            for key, value in options.items():
                if key not in known:
                    raise ConfigError(f"unknown setting '{key}'")
                _check_type(key, value, known[key].type)
                self.options[key] = value
        return self

    # -- questions -------------------------------------------------------------------------

    def option(self, key: str) -> Any:
        """A rule setting: the configured value, else the declaring rule's default."""
        if key in self.options:
            return self.options[key]
        option = rule_options().get(key)
        if option is None:
            raise KeyError(f"no rule declares the setting '{key}'")
        return option.default

    def enabled_codes(self, codes: Iterable[str]) -> List[str]:
        """The codes selected and not ignored (a longer matching selector wins, as in Ruff)."""
        selected = self.select if self.select is not None else ["ALL"]
        selected = selected + self.extend_select
        result = []
        for code in codes:
            sel = _longest_match(code, selected)
            ign = _longest_match(code, self.ignore)
            if sel >= 0 and sel > ign:
                result.append(code)
        return result

    def ignored_for_file(self, relpath: str) -> List[str]:
        ignored: List[str] = []
        for pattern, codes in self.per_file_ignores.items():
            spec = pathspec.GitIgnoreSpec.from_lines([pattern])
            if spec.match_file(relpath):
                ignored.extend(codes)
        return ignored

    @property
    def exclude_spec(self) -> pathspec.GitIgnoreSpec:
        patterns = (self.exclude or DEFAULT_EXCLUDE) + self.extend_exclude
        return pathspec.GitIgnoreSpec.from_lines(patterns)

    @property
    def source_roots(self) -> List[Path]:
        return [(self.root / s).resolve() for s in self.src]

    def fingerprint(self) -> str:
        """Stable hash of everything that can change a file's findings (for the cache)."""
        payload = {
            "version": __version__,
            "select": self.select,
            "extend_select": self.extend_select,
            "ignore": self.ignore,
            "per_file_ignores": self.per_file_ignores,
            "src": self.src,
            "options": self.options,
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _longest_match(code: str, selectors: Iterable[str]) -> int:
    best = -1
    for sel in selectors:
        if sel == "ALL":
            best = max(best, 0)
        elif code.startswith(sel):
            best = max(best, len(sel))
    return best
