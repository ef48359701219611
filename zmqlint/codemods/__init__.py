"""The rewrites fixes apply (LibCST), one module per fix family, and what they share."""

from __future__ import annotations

from typing import Set

import libcst as cst


def names_in(node: cst.CSTNode) -> Set[str]:
    """Every identifier used in ``node`` (to tell whether a name is free for an import or a
    new binding)."""
    names: Set[str] = set()

    class Collect(cst.CSTVisitor):
        def visit_Name(self, n: cst.Name) -> None:
            names.add(n.value)

    node.visit(Collect())
    return names


class _Matchers:
    """`libcst.matchers`, imported on first use (``from zmqlint.codemods import matchers as m``).

    The module defines a matcher class for every node type and takes a quarter of a second to
    import; a run in which no rule gets as far as matching should not pay for it.
    """

    def __getattr__(self, name: str):
        import libcst.matchers

        value = getattr(libcst.matchers, name)
        setattr(self, name, value)
        return value


matchers = _Matchers()
