"""``zmqlint server``: a Language Server for editors.

Publishes zmqlint's findings as diagnostics when a document is opened, changed or saved, and
offers each finding's fix as a quick-fix code action (unsafe fixes are labelled as such), plus
"fix all safe findings" for the whole document. It lints the editor's text, not the file on
disk, and never writes files itself: edits go back to the editor as workspace edits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple
from urllib.parse import unquote, urlparse

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from zmqlint import __version__
from zmqlint.config import Config, ConfigError
from zmqlint.engine import Engine, FixMode, apply_fixes, compiles
from zmqlint.model import Applicability, Finding, Severity

_SEVERITY = {
    Severity.CRITICAL: types.DiagnosticSeverity.Error,
    Severity.HIGH: types.DiagnosticSeverity.Error,
    Severity.MEDIUM: types.DiagnosticSeverity.Warning,
    Severity.LOW: types.DiagnosticSeverity.Information,
}


def _path(uri: str) -> Path:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme in ("file", "") else Path(uri)


class ZmqlintServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("zmqlint", __version__)
        self._engines: Dict[Path, Engine] = {}

    def engine_for(self, path: Path, mode: FixMode = FixMode.NONE) -> Engine:
        config = Config.discover([path])
        key = config.root
        if key not in self._engines:
            self._engines[key] = Engine(config)
        engine = self._engines[key]
        engine.fix_mode = mode
        return engine

    def lint(self, uri: str, text: str) -> Tuple[Engine, List[Finding], object]:
        path = _path(uri)
        engine = self.engine_for(path)
        engine.index.set_source(path, text)
        findings, module, _ = engine.lint_text(path, path.name, text)
        return engine, findings, module

    def diagnostics(self, uri: str, text: str) -> List[types.Diagnostic]:
        try:
            _, findings, _ = self.lint(uri, text)
        except ConfigError as exc:
            self.window_show_message(types.ShowMessageParams(types.MessageType.Error, f"zmqlint: {exc}"))
            return []
        return [
            types.Diagnostic(
                range=_range(f),
                message=f.message,
                severity=_SEVERITY[f.severity],
                code=f.code,
                source="zmqlint",
                data={"fix": f.fix.applicability.value if f.fix else None},
            )
            for f in findings
        ]

    def publish(self, uri: str) -> None:
        document = self.workspace.get_text_document(uri)
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=self.diagnostics(uri, document.source), version=document.version)
        )

    def code_actions(self, uri: str, requested: types.Range) -> List[types.CodeAction]:
        document = self.workspace.get_text_document(uri)
        text = document.source
        engine, findings, module = self.lint(uri, text)
        if module is None:
            return []
        actions: List[types.CodeAction] = []
        for finding in findings:
            if finding.fix is None or not _overlaps(_range(finding), requested):
                continue
            for fix in (finding.fix, finding.fix.fallback):
                if fix is None or fix.applicability is Applicability.DISPLAY:
                    continue
                new_text = apply_fixes(module, [fix]).code
                if new_text == text or not compiles(new_text):
                    continue
                unsafe = " (unsafe)" if fix.applicability is Applicability.UNSAFE else ""
                actions.append(
                    types.CodeAction(
                        title=f"{finding.code}: {fix.description}{unsafe}",
                        kind=types.CodeActionKind.QuickFix,
                        diagnostics=[
                            types.Diagnostic(range=_range(finding), message=finding.message, code=finding.code, source="zmqlint")
                        ],
                        edit=_whole_document_edit(uri, text, new_text),
                        is_preferred=not unsafe,
                    )
                )
        if any(FixMode.SAFE.allows(f.fix) for f in findings):
            engine.fix_mode = FixMode.SAFE
            path = _path(uri)
            fixed, applied, _ = engine._fix_loop(path, path.name, text, findings, module)
            engine.fix_mode = FixMode.NONE
            if applied and fixed != text:
                actions.append(
                    types.CodeAction(
                        title="zmqlint: fix all safe findings",
                        kind=types.CodeActionKind.SourceFixAll,
                        edit=_whole_document_edit(uri, text, fixed),
                    )
                )
        return actions


def _range(finding: Finding) -> types.Range:
    return types.Range(
        start=types.Position(line=finding.line - 1, character=finding.column - 1),
        end=types.Position(line=finding.end_line - 1, character=finding.end_column - 1),
    )


def _overlaps(a: types.Range, b: types.Range) -> bool:
    a_start, a_end = (a.start.line, a.start.character), (a.end.line, a.end.character)
    b_start, b_end = (b.start.line, b.start.character), (b.end.line, b.end.character)
    return a_start <= b_end and b_start <= a_end


def _whole_document_edit(uri: str, old: str, new: str) -> types.WorkspaceEdit:
    lines = old.split("\n")
    end = types.Position(line=len(lines) - 1, character=len(lines[-1]))
    return types.WorkspaceEdit(changes={uri: [types.TextEdit(range=types.Range(types.Position(0, 0), end), new_text=new)]})


def build_server() -> ZmqlintServer:
    server = ZmqlintServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: ZmqlintServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: ZmqlintServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: ZmqlintServer, params: types.DidSaveTextDocumentParams) -> None:
        ls.publish(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: ZmqlintServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=params.text_document.uri, diagnostics=[]))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, types.CodeActionKind.SourceFixAll]),
    )
    def code_action(ls: ZmqlintServer, params: types.CodeActionParams) -> Optional[List[types.CodeAction]]:
        return ls.code_actions(params.text_document.uri, params.range)

    return server


def main() -> None:
    build_server().start_io()
