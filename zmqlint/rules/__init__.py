"""The rule catalog: every module in this package defines one rule.

The registry is built by importing the package's modules, so adding a rule is adding a file.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache
from typing import TYPE_CHECKING, Dict, List, Type

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.rule import Rule

#: Findings the engine itself emits (not rules): a file that does not parse, or cannot be read.
ENGINE_CODES = {
    "E999": ("syntax-error", "critical", "a statement does not parse; it was set aside, the rest was checked, the file is not fixed"),
    "E902": ("io-error", "critical", "the file could not be read or decoded"),
}


@lru_cache(maxsize=None)
def all_rules() -> Dict[str, Type[Rule]]:
    """Every rule, by code, in code order."""
    from zmqlint.rule import Rule  # here: LibCST is imported only when rules are needed

    found: Dict[str, Type[Rule]] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Rule)
                and value is not Rule
                and value.__module__ == module.__name__
                and getattr(value, "CODE", None)
            ):
                if value.CODE in found:
                    raise RuntimeError(f"rule code {value.CODE} defined twice")
                found[value.CODE] = value
    return dict(sorted(found.items()))


def rule_for(code_or_name: str) -> Type[Rule] | None:
    for rule in all_rules().values():
        if code_or_name.upper() == rule.CODE or code_or_name == rule.NAME:
            return rule
    return None


def known_codes() -> List[str]:
    return list(all_rules()) + list(ENGINE_CODES)
