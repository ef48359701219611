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
