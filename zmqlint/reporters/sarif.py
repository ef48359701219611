"""``--format sarif``: SARIF 2.1.0 as GitHub code scanning loads it.

Every rule of the catalog appears in ``tool.driver.rules`` with its help text and default
level; results point at the rule by id and index and carry a physical location (a path
relative to the repository, with ``/`` separators) and, where one exists, the fix.
"""

from __future__ import annotations

import json
from typing import TextIO

from zmqlint import __version__
from zmqlint.model import Severity
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


def document(result: RunResult) -> dict:
    rules = driver_rules()
    index_of = {rule["id"]: i for i, rule in enumerate(rules)}
    results = []
    for f in result.findings:
        item = {
            "ruleId": f.code,
            "ruleIndex": index_of[f.code],
            "level": _LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.replace("\\", "/"), "uriBaseId": "%SRCROOT%"},
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
                "results": results,
            }
        ],
    }


def render(result: RunResult, stream: TextIO) -> None:
    json.dump(document(result), stream, indent=2)
    stream.write("\n")
