"""``--format sarif``: SARIF 2.1.0 as GitHub code scanning loads it.

Every rule of the catalog appears in ``tool.driver.rules`` with its help text and default
level; results point at the rule by id and index and carry a physical location (a path
relative to the repository, with ``/`` separators) and, where one exists, the fix: as SARIF
``fixes`` (the regions it deletes and the text it inserts, which viewers can apply; an unsafe
fix and its safe fallback are two fixes) and, as before, described in ``properties.fix``.
Columns count code points (``columnKind``), as zmqlint's do.
"""

from __future__ import annotations

import json
from typing import Dict, List, Optional, TextIO

from zmqlint import __version__
from zmqlint.config import Config
from zmqlint.model import Applicability, Severity
from zmqlint.rules import ENGINE_CODES, all_rules
from zmqlint.runner import RunResult

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
_SECURITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}


def driver_rules() -> list:
    rules = []
    for code, rule in all_rules().items():
        severity = rule.SEVERITY
        rules.append(
            {
                "id": code,
                "name": rule.NAME,
                "shortDescription": {"text": rule.summary()},
                "fullDescription": {"text": rule.MESSAGE},
                "help": {"text": rule.documentation(), "markdown": rule.documentation()},
                "defaultConfiguration": {"level": _LEVEL[severity]},
                "properties": {
                    "tags": [code[:3].lower(), severity.value],
                    "security-severity": _SECURITY[severity],
                    "precision": "high",
                },
            }
        )
    for code, (name, severity, description) in ENGINE_CODES.items():
        rules.append(
            {
                "id": code,
                "name": name,
                "shortDescription": {"text": description},
                "fullDescription": {"text": description},
                "help": {"text": description},
                "defaultConfiguration": {"level": _LEVEL[Severity(severity)]},
            }
        )
    return rules


_APPLIES_WITH = {
    Applicability.SAFE: "safe: zmqlint --fix applies it",
    Applicability.UNSAFE: "unsafe: zmqlint --fix --unsafe-fixes applies it",
    Applicability.DISPLAY: "display only: zmqlint never applies it",
}


def _fixes(edits, artifact: dict) -> List[dict]:
    """SARIF ``fix`` objects for a finding's edits (`zmqlint.reporters.edits`)."""
    from zmqlint.reporters.edits import LineIndex

    fixes = []
    for edit in edits:
        lines = LineIndex(edit.before)
        replacements = []
        for start, end, inserted in edit.replacements():
            start_line, start_column = lines.position(start)
            end_line, end_column = lines.position(end)
            replacement = {
                "deletedRegion": {
                    "startLine": start_line,
                    "startColumn": start_column,
                    "endLine": end_line,
                    "endColumn": end_column,
                    "charOffset": start,
                    "charLength": end - start,
                }
            }
            if inserted:
                replacement["insertedContent"] = {"text": inserted}
            replacements.append(replacement)
        fixes.append(
            {
                "description": {"text": f"{edit.fix.description} ({_APPLIES_WITH[edit.fix.applicability]})"},
                "artifactChanges": [{"artifactLocation": dict(artifact), "replacements": replacements}],
            }
        )
    return fixes


def document(result: RunResult, config: Optional[Config] = None) -> dict:
    """The SARIF log of ``result``; with ``config`` (the run's), results carry their fixes'
    edits as SARIF ``fixes``."""
    rules = driver_rules()
    index_of = {rule["id"]: i for i, rule in enumerate(rules)}
    edits: Dict[int, list] = {}
    if config is not None:
        from zmqlint.reporters.edits import fix_edits

        edits = fix_edits(result, config)
    results = []
    for f in result.findings:
        artifact = {"uri": f.path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"}
        item = {
            "ruleId": f.code,
            "ruleIndex": index_of[f.code],
            "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": dict(artifact),
                        "region": {
                            "startLine": f.line,
                            "startColumn": f.column,
                            "endLine": f.end_line,
                            "endColumn": f.end_column,
                        },
                    }
                }
            ],
            "properties": {"severity": f.severity.value},
        }
        if f.fix is not None:
            item["properties"]["fix"] = f.fix.to_json()
            if id(f) in edits:
                item["fixes"] = _fixes(edits[id(f)], artifact)
        results.append(item)
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "zmqlint",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://pypi.org/project/zmqlint/",
                        "rules": rules,
                    }
                },
                "columnKind": "unicodeCodePoints",
                "results": results,
            }
        ],
    }


def render(result: RunResult, stream: TextIO, config: Optional[Config] = None) -> None:
    json.dump(document(result, config), stream, indent=2)
    stream.write("\n")
