"""The index's walks against the standard library's own: the same nodes in the same order,
less expression contexts and operators, on real modules and on every node type the grammar
has; the LibCST depth estimate unchanged by leaving those out."""

from __future__ import annotations

import ast
import sysconfig
from pathlib import Path

import pytest

from zmqlint.nodes import HAS_LEAF_FIELDS, child_nodes, own_nodes, walk
from zmqlint.tolerant import cst_depth

from conftest import EVERY_SYNTAX

LEAVES = (ast.expr_context, ast.operator, ast.unaryop, ast.cmpop, ast.boolop)


def _stdlib_modules(limit: int):
    root = Path(sysconfig.get_paths()["stdlib"])
    found = []
    for path in sorted(root.glob("*.py"))[:limit]:
        try:
            found.append(ast.parse(path.read_text(encoding="utf-8")))
        except (SyntaxError, UnicodeDecodeError):
            continue
    return found


def _same(left, right) -> bool:
    return len(left) == len(right) and all(a is b for a, b in zip(left, right))


@pytest.mark.parametrize("source", ["every-kind", "stdlib"])
def test_walk_is_ast_walk_without_contexts_and_operators(source):
    trees = [ast.parse(EVERY_SYNTAX)] if source == "every-kind" else _stdlib_modules(60)
    assert trees
    for tree in trees:
        expected = [node for node in ast.walk(tree) if not isinstance(node, LEAVES)]
        assert _same(walk(tree), expected)
        for node in expected[:: max(1, len(expected) // 300)]:
            children = [child for child in ast.iter_child_nodes(node) if not isinstance(child, LEAVES)]
            assert _same(child_nodes(node), children)
    kinds = {type(node) for node in ast.walk(ast.parse(EVERY_SYNTAX))}
    assert {ast.MatchAs, ast.MatchStar, ast.MatchSingleton, ast.Dict, ast.arguments, ast.Try} <= kinds


def test_own_nodes_stop_at_nested_scopes_and_skip_the_same_leaves():
    tree = ast.parse(EVERY_SYNTAX)
    method = next(node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "g")
    mine = list(own_nodes(method))
    assert not any(isinstance(node, LEAVES) for node in mine)
    assert any(isinstance(node, ast.Match) for node in mine)
    function = next(node for node in ast.walk(tree) if isinstance(node, ast.AsyncFunctionDef))
    inside = list(own_nodes(function))
    lambdas = [node for node in inside if isinstance(node, ast.Lambda)]
    assert lambdas and not any(node is lambdas[0].body for node in inside)


def _depth_with_every_leaf(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        step = len(node.values) - 1 if isinstance(node, ast.BoolOp) else 1
        stack.extend((child, depth + step) for child in ast.iter_child_nodes(node))
    return deepest


def test_the_libcst_depth_estimate_still_counts_the_leaves():
    for tree in [ast.parse(EVERY_SYNTAX), ast.parse("x = " + "(" * 40 + "a or b or c" + ")" * 40), *_stdlib_modules(30)]:
        assert cst_depth(tree) == _depth_with_every_leaf(tree)
    assert ast.Name in HAS_LEAF_FIELDS and ast.Call not in HAS_LEAF_FIELDS
