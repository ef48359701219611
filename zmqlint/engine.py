"""The engine: lint one file, fix one file, run over many.

Per file: read and decode once, pick the selected rules whose textual prefilter matches, parse
once with LibCST, run all those rules in one batched traversal of one `MetadataWrapper`, drop
suppressed findings. Fixing repeats lint-and-rewrite passes until no applicable fix is left;
every pass must produce code that compiles, otherwise its fixes are tried one at a time and
those that break the file are dropped and reported. Files that do not parse are never
rewritten.
"""

from __future__ import annotations

import ast
import dataclasses
import traceback
import warnings
from pathlib import Path
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple, Type

import libcst as cst
from libcst.metadata import PositionProvider

from zmqlint import tolerant
from zmqlint.config import Config
from zmqlint.gates import FileFacts
from zmqlint.index import ProjectIndex
from zmqlint.model import FileResult, Finding, Fix, FixMode, Severity
from zmqlint.positions import Positions
from zmqlint.rule import Rule, RuleContext
from zmqlint.rules import ENGINE_CODES, all_rules
from zmqlint.source import ConcurrentModification, SourceError, SourceFile
from zmqlint.traversal import visit_read_only
from zmqlint.suppress import is_suppressed, parse_suppressions

MAX_FIX_PASSES = 12


def engine_finding(display_path: str, code: str, message: str, line: int = 1, column: int = 1) -> Finding:
    name, severity, _ = ENGINE_CODES[code]
    return Finding(
        path=display_path,
        line=line,
        column=column,
        end_line=line,
        end_column=column,
        code=code,
        name=name,
        severity=Severity(severity),
        message=message,
    )


def syntax_error_finding(display_path: str, text: str, fallback: Exception) -> Finding:
    """E999 with the interpreter's own line, column and message where it has one."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, display_path, "exec", flags=ast.PyCF_ONLY_AST, dont_inherit=True)
    except SyntaxError as exc:
        return engine_finding(
            display_path, "E999", f"SyntaxError: {exc.msg}", line=exc.lineno or 1, column=max(exc.offset or 1, 1)
        )
    except (ValueError, RecursionError, MemoryError) as exc:
        return engine_finding(display_path, "E999", f"{type(exc).__name__}: {exc}")
    message = getattr(fallback, "message", None) or str(fallback).splitlines()[0]
    return engine_finding(
        display_path,
        "E999",
        f"cannot parse: {message}",
        line=getattr(fallback, "raw_line", 1) or 1,
        column=(getattr(fallback, "raw_column", 0) or 0) + 1,
    )


class _ApplyFixes(cst.CSTTransformer):
    """Applies many fixes in one traversal: node replacements by identity, and fix
    transformers chained on every node (each sees the original node and the node as the
    transformers before it left it)."""

    def __init__(self, replacements: Dict[cst.CSTNode, object], transformers: Sequence[cst.CSTTransformer]):
        super().__init__()
        self.replacements = replacements
        self.transformers = list(transformers)

    def on_visit(self, node: cst.CSTNode) -> bool:
        for transformer in self.transformers:
            transformer.on_visit(node)
        return True

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        for transformer in self.transformers:
            transformer.on_visit_attribute(node, attribute)

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        for transformer in self.transformers:
            transformer.on_leave_attribute(original_node, attribute)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):
        result = updated_node
        for transformer in self.transformers:
            result = transformer.on_leave(original_node, result)
            if not isinstance(result, cst.CSTNode):
                return result
        if original_node in self.replacements:
            return self.replacements[original_node]
        return result


def apply_fixes(module: cst.Module, fixes: Sequence[Fix], *, package: Optional[str] = None) -> cst.Module:
    """``module`` with ``fixes`` applied (their nodes must belong to ``module``).

    ``package`` is the dotted package the file belongs to; with it, relative imports a fix
    asks to remove (``ImportSpec("..pools", "get_socket")``) are recognised too.
    """
    # Imported here: libcst.codemod costs more start-up than the rest of LibCST together,
    # and a run that applies no fix never needs it.
    from libcst.codemod import CodemodContext
    from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor

    replacements: Dict[cst.CSTNode, object] = {}
    transformers = []
    for fix in fixes:
        replacements.update(fix.replacements)
        if fix.transformer is not None:
            transformers.append(fix.transformer())
    new = module.visit(_ApplyFixes(replacements, transformers))
    adds = [imp for fix in fixes for imp in fix.add_imports]
    removes = [imp for fix in fixes for imp in fix.remove_imports]
    if adds:
        context = CodemodContext()
        for imp in adds:
            AddImportsVisitor.add_needed_import(context, imp.module, imp.obj, imp.asname)
        new = AddImportsVisitor(context).transform_module(new)
    if removes:
        context = CodemodContext(full_package_name=package)
        for imp in removes:
            RemoveImportsVisitor.remove_unused_import(context, _absolute_module(imp.module, package), imp.obj, imp.asname)
        new = RemoveImportsVisitor(context).transform_module(new)
    return new


def _absolute_module(module: str, package: Optional[str]) -> str:
    """``..pools`` seen from package ``a.b.c`` is ``a.b.pools`` (unchanged when absolute)."""
    level = len(module) - len(module.lstrip("."))
    if not level or package is None:
        return module
    parts = package.split(".") if package else []
    base = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    rest = module[level:]
    return ".".join([*base, rest] if rest else base)


def compiles(text: str, filename: str = "<fixed>") -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(text, filename, "exec", dont_inherit=True)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


class Engine:
    """Lints and fixes files under one configuration, sharing one project index."""

    def __init__(
        self,
        config: Config,
        *,
        fix_mode: FixMode = FixMode.NONE,
        index: Optional[ProjectIndex] = None,
        use_prefilter: bool = True,
    ) -> None:
        self.config = config
        self.fix_mode = fix_mode
        self.use_prefilter = use_prefilter
        self.index = index or ProjectIndex(config.root, config.source_roots)
        rules = all_rules()
        self.enabled_codes = set(config.enabled_codes(list(rules) + list(ENGINE_CODES)))
        self.rules: List[Type[Rule]] = [rule for code, rule in rules.items() if code in self.enabled_codes]
        #: Files parsed with LibCST so far (their analysis is what leaves garbage cycles).
        self.cst_parses = 0
        #: Called before LibCST parses a file (the runner freezes what the gates left, so that a
        #: collection after the file looks only at what the LibCST phase made).
        self.before_cst_parse: Optional[Callable[[], None]] = None

    # -- selection -------------------------------------------------------------------------

    def _relpath(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.config.root).as_posix()
        except ValueError:
            return path.as_posix()

    def rules_for(self, path: Path, text: str) -> List[Type[Rule]]:
        ignored = self.config.ignored_for_file(self._relpath(path))
        chosen = []
        for rule in self.rules:
            if any(rule.CODE.startswith(code) for code in ignored):
                continue
            if self.use_prefilter and rule.PREFILTER and not any(_hint_in(hint, text) for hint in rule.PREFILTER):
                continue
            chosen.append(rule)
        return chosen

    def _code_enabled_for(self, path: Path, code: str) -> bool:
        if code not in self.enabled_codes:
            return False
        return not any(code.startswith(c) for c in self.config.ignored_for_file(self._relpath(path)))

    # -- linting ---------------------------------------------------------------------------

    def lint_text(
        self, path: Path, display_path: str, text: str, *, for_fixing: bool = True
    ) -> Tuple[List[Finding], Optional[cst.Module], List[str]]:
        """Findings for ``text`` (the content of ``path``), the module the rules saw (None if
        it did not parse, nothing needed parsing, or ``for_fixing`` is False and only part of
        it was parsed), and internal errors."""
        rules = self.rules_for(path, text)
        tree: Optional[ast.Module] = None
        keep: Optional[List[Tuple[int, int]]] = None
        whole: List[int] = []
        repair = None
        if rules and self.use_prefilter:
            facts = FileFacts(path=path, text=text, index=self.index, config=self.config)
            tree = facts.tree
            # A file that does not parse is gated on its repaired tree (the index's repair);
            # it still gets its E999s when no rule is left.
            repair = facts.repair
            if tree is not None:
                rules = [rule for rule in rules if _admits(rule, facts)]
                if not rules and repair is None:
                    return [], None, []
                if not for_fixing:
                    # A repaired text is sliced the same way (its tree is the one gated).
                    keep = _candidate_spans(rules, facts)
                    if keep is not None:
                        whole = [node.lineno for node in facts.nodes(ast.Global, ast.Nonlocal)]
            if repair is not None:
                tree = None
        if not rules and repair is None and compiles_ast(text):
            return [], None, []
        # A file with syntax errors is analysed with its broken statements set aside
        # (`zmqlint.tolerant`); it gets an E999 per broken part and is never rewritten.
        # When only local rules run, what holds none of their candidates is stubbed out
        # (`zmqlint.slicing`).
        if rules and self.before_cst_parse is not None:
            self.before_cst_parse()
        parsed = tolerant.parse(text, need_module=bool(rules), tree=tree, keep=keep, whole_lines=whole, repair=repair)
        if parsed.module is not None:
            self.cst_parses += 1
        syntax_errors: List[Finding] = []
        if self._code_enabled_for(path, "E999"):
            if parsed.failure is not None:
                syntax_errors.append(engine_finding(display_path, "E999", parsed.failure))
            for problem in parsed.problems:
                syntax_errors.append(engine_finding(display_path, "E999", problem.message, problem.line, problem.column))
        module = parsed.module
        if module is None:
            return syntax_errors, None, []
        try:
            wrapper = _LazyMetadataWrapper(module, unsafe_skip_copy=True)
            context = RuleContext(
                path=path,
                display_path=display_path,
                source=parsed.text,
                wrapper=wrapper,
                config=self.config,
                index=self.index,
            )
            visit_read_only(wrapper, [rule(context) for rule in rules])
        except RecursionError:
            return [engine_finding(display_path, "E999", "the file is nested too deeply to analyse")], None, []
        except Exception as exc:  # a rule crashed: report it, keep the run going
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return [], None, [f"{display_path}: internal error while checking: {detail}"]
        suppressions = parse_suppressions(text)
        findings = [f for f in _without_superseded(context.findings, rules) if not is_suppressed(suppressions, f.line, f.code)]
        if parsed.repaired or parsed.sliced or not for_fixing:
            # The module goes nowhere (never rewritten): undo the references that make the
            # tree part of a cycle (the wrapper and its lazy metadata; the context, its
            # findings and their fixes' rules), so that it is freed as soon as the findings
            # are, instead of waiting for the cyclic collector to find it.
            _release(wrapper, context)
        if parsed.repaired:
            findings = [dataclasses.replace(f, fix=None) for f in findings] + syntax_errors
            findings.sort(key=lambda f: f.sort_key)
            return findings, None, []
        findings.sort(key=lambda f: f.sort_key)
        return findings, None if parsed.sliced else wrapper.module, []

    def check_file(self, path: Path, display_path: str, *, write: bool = True, content: Optional[bytes] = None) -> FileResult:
        """Lint ``path``; when fixing, rewrite it (``write``) or only compute the new text.

        With ``content``, those bytes are the file instead of what is on disk (an editor's
        buffer piped to standard input): they are decoded as a file would be, the project index
        sees their text for ``path`` (the file on disk is never read for it), and nothing is
        written.
        """
        result = FileResult(path=path, display_path=display_path)
        self.index.reset_touched()
        if content is not None:
            write = False
        try:
            if content is None:
                source = SourceFile.read(path)
            else:
                source = SourceFile.from_bytes(path, content)
                self.index.set_source(path, source.text)
                result.source_text = source.text
        except SourceError as exc:
            if self._code_enabled_for(path, "E902"):
                result.findings.append(engine_finding(display_path, "E902", str(exc)))
            return result
        if "\0" in source.text:
            if self._code_enabled_for(path, "E902"):
                result.findings.append(engine_finding(display_path, "E902", "the file contains NUL bytes; not Python source"))
            return result
        findings, module, errors = self.lint_text(
            path, display_path, source.text, for_fixing=self.fix_mode is not FixMode.NONE
        )
        result.errors.extend(errors)
        if self.fix_mode is FixMode.NONE or module is None or not any(self.fix_mode.allows(f.fix) for f in findings):
            result.findings = findings
            result.dependencies = set(self.index.touched)
            return result
        text, applied, notes = self._fix_loop(path, display_path, source.text, findings, module, result.applied_fix_meta)
        result.notes.extend(notes)
        if applied and text != source.text:
            result.original_text = source.text
            result.fixed_text = text
            result.fixes_applied = applied
            if write:
                try:
                    source.write(text)
                except ConcurrentModification as exc:
                    result.notes.append(str(exc))
                    result.fixed_text = None
                    result.applied_fix_meta.clear()
                    result.fixes_applied = 0
                    text = source.text
                except OSError as exc:
                    result.notes.append(f"{display_path}: cannot write the fixed file: {exc.strerror or exc}")
                    result.fixed_text = None
                    result.applied_fix_meta.clear()
                    result.fixes_applied = 0
                    text = source.text
            self.index.set_source(path, text)
            findings, _, errors = self.lint_text(path, display_path, text)
            result.errors.extend(errors)
        result.findings = findings
        result.dependencies = set(self.index.touched)
        return result

    # -- fixing ----------------------------------------------------------------------------

    def package_of(self, path: Path) -> str:
        """The dotted package ``path`` belongs to (for the relative imports a fix removes)."""
        name = self.index.module_name(path)
        return name if Path(path).name == "__init__.py" else name.rpartition(".")[0]

    def _fix_loop(
        self,
        path: Path,
        display_path: str,
        text: str,
        findings: List[Finding],
        module: cst.Module,
        applied_meta: Optional[List[dict]] = None,
    ) -> Tuple[str, int, List[str]]:
        applied = 0
        notes: List[str] = []
        rejected: Set[tuple] = set()
        lines = text.splitlines()
        package = self.package_of(path)

        def apply(module: cst.Module, fixes: Sequence[Fix]) -> cst.Module:
            return apply_fixes(module, fixes, package=package)

        for _ in range(MAX_FIX_PASSES):
            lines = text.splitlines()
            candidates = [
                f for f in findings if self.fix_mode.allows(f.fix) and _fix_key(f, lines) not in rejected
            ]
            if not candidates or module is None:
                break
            new_text = apply(module, [self.fix_mode.choose(f.fix) for f in candidates]).code
            if not compiles(new_text, display_path):
                good = []
                for finding in candidates:
                    alone = apply(module, [self.fix_mode.choose(finding.fix)]).code
                    if compiles(alone, display_path):
                        good.append(finding)
                    else:
                        rejected.add(_fix_key(finding, lines))
                        notes.append(
                            f"{display_path}:{finding.line}:{finding.column}: fix for {finding.code} dropped: "
                            "the result would not compile"
                        )
                if not good:
                    break
                new_text = apply(module, [self.fix_mode.choose(f.fix) for f in good]).code
                if not compiles(new_text, display_path):
                    good = good[:1]
                    new_text = apply(module, [self.fix_mode.choose(good[0].fix)]).code
                candidates = good
            if new_text == text:
                break
            applied += len(candidates)
            if applied_meta is not None:
                for finding in candidates:
                    chosen = self.fix_mode.choose(finding.fix)
                    if chosen.meta:
                        applied_meta.append({**chosen.meta, "path": display_path, "line": finding.line, "code": finding.code})
            text = new_text
            self.index.set_source(path, text)
            findings, module, errors = self.lint_text(path, display_path, text)
            notes.extend(errors)
        return text, applied, notes


class _LazyMetadata(Mapping):
    """One provider's node -> value mapping, computed on the first lookup."""

    def __init__(self, wrapper: cst.MetadataWrapper, provider) -> None:
        self._wrapper = wrapper
        self._provider = provider
        self._values: Optional[Mapping] = None

    def _resolved(self) -> Mapping:
        if self._values is None:
            if self._provider is PositionProvider:
                self._values = Positions(self._wrapper.module)
            else:
                self._values = cst.MetadataWrapper.resolve_many(self._wrapper, [self._provider])[self._provider]
        return self._values

    def __getitem__(self, node):
        return self._resolved()[node]

    def __iter__(self):
        return iter(self._resolved())

    def __len__(self) -> int:
        return len(self._resolved())


class _LazyMetadataWrapper(cst.MetadataWrapper):
    """A `MetadataWrapper` that computes each provider's metadata when a rule first asks for it.

    Rules declare what they may need (every rule `PositionProvider`, some scopes and qualified
    names), but most files give a rule nothing to look up: positions are only needed where a
    rule reports, scopes only where it found a candidate. Computing them up front costs more
    than parsing. The values are LibCST's own, computed once per module on first use.
    """

    __slots__ = ("_lazy",)

    def __init__(self, module: cst.Module, unsafe_skip_copy: bool = False) -> None:
        super().__init__(module, unsafe_skip_copy=unsafe_skip_copy)
        self._lazy: Dict[object, _LazyMetadata] = {}

    def resolve_many(self, providers):
        # Each rule asks for its own providers: they share one lazy mapping per provider.
        for provider in providers:
            if provider not in self._lazy:
                self._lazy[provider] = _LazyMetadata(self, provider)
        return {provider: self._lazy[provider] for provider in providers}


def _release(wrapper: "_LazyMetadataWrapper", context: RuleContext) -> None:
    """Break the cycles a linted module sits in, once nothing will fix it: ``wrapper`` and its
    lazy metadata refer to each other, and so do ``context``, its findings, their fixes and the
    rules those belong to. Metadata a rule already holds keeps working."""
    wrapper._lazy = {}
    context.findings = []


def _without_superseded(findings: List[Finding], rules: Sequence[Type[Rule]]) -> List[Finding]:
    """``findings`` less those a more specific rule reported at the same range (`Rule.SUPERSEDES`)."""
    superseding = {rule.CODE: rule.SUPERSEDES for rule in rules if rule.SUPERSEDES}
    if not superseding:
        return findings
    covered = {
        (code, f.line, f.column, f.end_line, f.end_column)
        for f in findings
        for code in superseding.get(f.code, ())
    }
    if not covered:
        return findings
    return [f for f in findings if (f.code, f.line, f.column, f.end_line, f.end_column) not in covered]


def _candidate_spans(rules: Sequence[Type[Rule]], facts: FileFacts) -> Optional[List[Tuple[int, int]]]:
    """(first, last) line of every candidate of ``rules``, for a sliced parse; None when some
    rule is not local."""
    spans: List[Tuple[int, int]] = []
    for rule in rules:
        try:
            found = facts.candidates_of(rule)
        except Exception:  # like a failing gate: the rule gets the whole file
            return None
        if found is None:
            return None
        spans.extend((node.lineno, node.end_lineno or node.lineno) for node in found)
    return spans


def _admits(rule: Type[Rule], facts: FileFacts) -> bool:
    """The rule's gate; a gate that fails admits the file (the rule itself then decides)."""
    try:
        return bool(rule.gate(facts))
    except Exception:  # a gate is an optimisation: it must never cost a finding
        return True


def _hint_in(hint, text: str) -> bool:
    """A prefilter hint is a substring, or a compiled regular expression or `AnyWord` searched for."""
    return hint in text if isinstance(hint, str) else hint.search(text) is not None


def compiles_ast(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
        return True
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False


def _fix_key(finding: Finding, lines: List[str]) -> tuple:
    line = lines[finding.line - 1].strip() if 0 < finding.line <= len(lines) else ""
    return (finding.code, finding.message, line)
