from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Dict, List, Optional, Set, Tuple

import libcst as cst
from libcst.helpers import get_full_name_for_node
from libcst.metadata import PositionProvider

from zmqlint.codemods import names_in
from zmqlint.codemods.alerts import compare_call, comparison_operands
from zmqlint.gates import full_name
from zmqlint.index import FunctionInfo
from zmqlint.model import Applicability, Fix, ImportSpec, Severity
from zmqlint.rule import Invalid, Rule, Valid

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.gates import FileFacts

_FUNCTIONS = {"eval", "exec", "builtins.eval", "builtins.exec"}
#: The last name of every callee in `_FUNCTIONS`.
_LAST_NAMES = frozenset(name.rpartition(".")[2] for name in _FUNCTIONS)


class EvalOfDynamicString(Rule):
    """Flags `eval` and `exec` of strings built at run time.

    ## What it does
    Reports calls of `eval` / `exec` (also as `builtins.eval`) whose code argument is anything
    but text built from string literals: a literal, literals joined (`"\\n".join([...])`) or
    added, or a local name every assignment of which in its function is such text.

    ## Why is this bad?
    Whatever reaches the string runs with the service's rights. In the field report, metric
    alerts were checked with `eval(f"{value} {condition}")`: a mistyped or malicious alert
    condition such as `"> 0 or __import__('os').system('...')"` ran on the host.

    ## Example
    ```python
    def triggered(value, condition):
        return eval(f"{value} {condition}")
    ```

    ## Use instead
    ```python
    from zmqlint_runtime import alerts

    def triggered(value, condition):
        return alerts.compare(value, condition)
    ```

    ## Fix safety
    When the string is built as "value, then a comparison" (`f"{value} {condition}"`,
    `str(value) + " " + condition`, `"%s %s" % (value, condition)`, `"{} {}".format(...)`),
    the safe fix calls `zmqlint_runtime.alerts.compare(value, condition)`, which accepts
    `== != < <= > >=` against a number and raises `ConditionError` for anything else. Any
    other shape is reported only: what the string may legitimately hold is for a person to
    decide.
    """

    CODE = "SEC401"
    NAME = "eval-of-dynamic-string"
    SEVERITY = Severity.HIGH
    MESSAGE = "`{func}` of a dynamically built string runs whatever reaches it"
    FIXES = (Applicability.SAFE,)
    PREFILTER = ("eval", "exec")

    VALID = [
        Valid(
            """
            # Text joined from literals only: nothing dynamic reaches exec.
            def init_sympy(namespace):
                setup = "\\n".join([
                    "from sympy import *",
                    "x, y, z = symbols('x y z')",
                ])
                exec(setup, namespace)
                exec("from pylab import *" + "\\n", namespace)
            """
        ),
        Valid('result = eval("1 + 2")'),
        Valid('exec("import os")'),
        Valid("model.eval()"),
        Valid(
            """
            def eval(expression):
                return expression

            eval(user_input)
            """
        ),
        Valid("from sympy import sympify as eval\neval(text)"),
    ]

    INVALID = [
        Invalid(
            """
            def check_alert(value, condition):
                return eval(f"{value} {condition}")
            """,
            line=2,
            column=12,
            end_column=40,
            expected_fix="""
            from zmqlint_runtime import alerts

            def check_alert(value, condition):
                return alerts.compare(value, condition)
            """,
        ),
        Invalid(
            """
            import builtins
            fired = builtins.eval(str(metric) + " " + rule["condition"])
            """,
            expected_fix="""
            import builtins
            from zmqlint_runtime import alerts

            fired = alerts.compare(metric, rule["condition"])
            """,
        ),
        Invalid(
            """
            alerts = []
            if eval("%s %s" % (cpu, threshold)):
                alerts.append("cpu")
            """,
            expected_fix="""
            import zmqlint_runtime.alerts

            alerts = []
            if zmqlint_runtime.alerts.compare(cpu, threshold):
                alerts.append("cpu")
            """,
        ),
        Invalid(
            """
            ok = eval(f"{value} {op} {limit}")
            """,
            expected_fix="""
            from zmqlint_runtime import alerts

            ok = alerts.compare(value, f"{op} {limit}")
            """,
        ),
        Invalid(
            """
            exec(payload)
            """,
            message_contains="exec",
            expected_fix=None,
        ),
        Invalid(
            """
            handler = eval(config["handler"], namespace)
            """,
            expected_fix=None,
        ),
    ]

    @classmethod
    def candidates(cls, facts: "FileFacts") -> List[ast.Call]:
        # The same questions `visit_Module` and `visit_Call` ask, on the stdlib ast: a call
        # whose callee's full name is eval/exec/builtins.eval/builtins.exec (not a module-level
        # name of the file's own) with a first argument that is the code and not a literal.
        # Local: a finding depends on its call and the module's top-level bindings.
        candidates: List[ast.Call] = facts.calls(*_LAST_NAMES)
        if facts.calls_anything_else():
            # `eval(a)(b)`, `eval[0](b)`: get_full_name_for_node looks through calls and subscripts.
            candidates = candidates + [
                call for call in facts.nodes(ast.Call) if not isinstance(call.func, (ast.Name, ast.Attribute))
            ]
        shadowed: Optional[Set[str]] = None
        found: List[ast.Call] = []
        for call in candidates:
            name = full_name(call.func)
            if name not in _FUNCTIONS:
                continue
            if shadowed is None:
                shadowed = _gate_module_bindings(facts.tree)
            if name in shadowed:
                continue
            # LibCST's first argument is the first positional one or the first keyword one,
            # whichever comes first in the source (`eval(source=x, *rest)` is legal): try both.
            if call.args and not isinstance(call.args[0], ast.Starred) and not _gate_is_literal(call.args[0]):
                found.append(call)
                continue
            if call.keywords:
                first = call.keywords[0]  # `**kwargs` has no name (arg None): skipped as well
                if first.arg == "source" and not _gate_is_literal(first.value):
                    found.append(call)
        return found

    def __init__(self, context) -> None:
        super().__init__(context)
        self.shadowed: Set[str] = set()
        self._module_names: Optional[Set[str]] = None
        self._expressions: Optional[Tuple[object, Dict[Tuple[int, int], ast.expr]]] = None

    def visit_Module(self, node: cst.Module) -> None:
        for stmt in node.body:
            if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
                self.shadowed.add(stmt.name.value)
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.ImportFrom) and not isinstance(small.names, cst.ImportStar):
                        for alias in small.names:
                            local = alias.asname.name if alias.asname else alias.name
                            if isinstance(local, cst.Name):
                                self.shadowed.add(local.value)
                    elif isinstance(small, cst.Assign):
                        for target in small.targets:
                            if isinstance(target.target, cst.Name):
                                self.shadowed.add(target.target.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        # Most calls are `f(...)` / `x.f(...)` of some other f: skip them without naming them.
        if isinstance(func, cst.Name):
            if func.value not in _LAST_NAMES:
                return
        elif isinstance(func, cst.Attribute) and func.attr.value not in _LAST_NAMES:
            return
        name = get_full_name_for_node(func)
        if name not in _FUNCTIONS or name in self.shadowed or not node.args:
            return
        code_arg = node.args[0]
        if code_arg.star or (code_arg.keyword is not None and code_arg.keyword.value != "source"):
            return
        if _is_literal(code_arg.value) or self._constant_text(code_arg.value):
            return
        func = name.rpartition(".")[2]
        fix = None
        operands = comparison_operands(code_arg.value) if func == "eval" and len(node.args) == 1 else None
        if operands is not None:
            alias = "alerts" if "alerts" not in self.module_names() else "zmqlint_runtime.alerts"
            imports = [ImportSpec("zmqlint_runtime", "alerts")] if alias == "alerts" else [ImportSpec("zmqlint_runtime.alerts")]
            fix = Fix(
                "compare with zmqlint_runtime.alerts.compare instead of eval",
                Applicability.SAFE,
                replacements={node: compare_call(operands[0], operands[1], alias)},
                add_imports=imports,
            )
        self.report(node, self.MESSAGE.format(func=func), fix=fix)

    def _constant_text(self, node: cst.BaseExpression) -> bool:
        """Text built from literals only: ``"\\n".join([...literals])``, ``"a" + "b"``, or a local
        name every binding of which in its function is such text."""
        module = self.context.module_info
        if module is None:
            return False
        start = self.get_metadata(PositionProvider, node).start
        if isinstance(node, cst.Name):
            scope = module.scope_at(start.line)
            function = scope[-1] if scope and isinstance(scope[-1], FunctionInfo) else None
            return function is not None and _constant_local(function.node, node.value)
        if self._expressions is None or self._expressions[0] is not module:
            self._expressions = (module, _expressions_at(module.nodes))
        expr = self._expressions[1].get((start.line, start.column))
        return expr is not None and _constant_ast_text(expr)

    def module_names(self) -> Set[str]:
        if self._module_names is None:
            self._module_names = names_in(self.context.module)
        return self._module_names


def _is_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.SimpleString):
        return True
    if isinstance(node, cst.ConcatenatedString):
        return _is_literal(node.left) and _is_literal(node.right)
    return isinstance(node, cst.FormattedString) and all(isinstance(part, cst.FormattedStringText) for part in node.parts)


def _constant_ast_text(node: ast.AST) -> bool:
    """A string built from literals only (an ast twin of `_is_literal`, wider)."""
    if _gate_is_literal(node):  # type: ignore[arg-type]
        return True
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        right = node.right
        if isinstance(node.op, ast.Mod) and isinstance(right, ast.Tuple):
            return _constant_ast_text(node.left) and all(_constant_ast_text(e) or isinstance(e, ast.Constant) for e in right.elts)
        return _constant_ast_text(node.left) and (_constant_ast_text(right) or isinstance(node.op, ast.Mod) and isinstance(right, ast.Constant))
    if (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
        and _gate_is_literal(node.func.value) and len(node.args) == 1 and not node.keywords
        and isinstance(node.args[0], (ast.List, ast.Tuple))
    ):
        return all(_constant_ast_text(e) for e in node.args[0].elts)
    return False


def _constant_local(function: ast.AST, name: str) -> bool:
    """Every binding of ``name`` in ``function`` is ``name = <text built from literals>``."""
    args = function.args  # type: ignore[attr-defined]
    if any(a.arg == name for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg] if a is not None):
        return False
    values = {
        id(stmt.targets[0]): stmt.value
        for stmt in ast.walk(function)
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1
    }
    assigned = False
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and node.id == name and not isinstance(node.ctx, ast.Load):
            value = values.get(id(node))
            if value is None or not _constant_ast_text(value):
                return False
            assigned = True
        elif isinstance(node, (ast.Global, ast.Nonlocal)) and name in node.names:
            return False
    return assigned


def _expressions_at(nodes: List[ast.AST]) -> Dict[Tuple[int, int], ast.expr]:
    """The outermost expression starting at each (1-based line, 0-based column) of a module, from
    its nodes in `ast.walk`'s order (an expression comes before the ones nested in it)."""
    found: Dict[Tuple[int, int], ast.expr] = {}
    for node in nodes:
        if isinstance(node, ast.expr):
            found.setdefault((node.lineno, node.col_offset), node)
    return found


# -- gate: the same questions on the stdlib ast ---------------------------------------------------


def _gate_module_bindings(tree: ast.Module) -> Set[str]:
    """The ast twin of `visit_Module`: names the module binds at its top level (functions,
    classes, from-imports, plain assignments)."""
    shadowed: Set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            shadowed.add(stmt.name)
        elif isinstance(stmt, ast.ImportFrom):
            if not any(alias.name == "*" for alias in stmt.names):
                shadowed.update(alias.asname or alias.name for alias in stmt.names)
        elif isinstance(stmt, ast.Assign):
            shadowed.update(target.id for target in stmt.targets if isinstance(target, ast.Name))
    return shadowed


def _gate_is_literal(node: ast.expr) -> bool:
    """The ast twin of `_is_literal`: a (possibly implicitly concatenated) string or bytes
    literal, or an f-string without replacement fields."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, (str, bytes))
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(part, ast.Constant) for part in node.values)
    return False
