"""``--format junit``: JUnit XML, as Jenkins, GitLab and most CI servers read test results.

One ``<testsuite>`` per file checked, named by its path; one ``<testcase>`` per finding, failed
with the finding's code and message; a file without findings holds one passing case, so the
files that were checked show up as passed. Findings on files that could not be read (E902)
get a suite of their own too.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import PurePosixPath
from typing import Dict, List, TextIO

from zmqlint.model import Finding
from zmqlint.reporters.concise import line
from zmqlint.runner import RunResult

PASSED = "no findings"
#: Characters XML 1.0 cannot hold at all, not even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(value: str) -> str:
    return _NOT_XML.sub("\ufffd", value)


def classname(path: str) -> str:
    """``svc/metrics.py`` -> ``svc.metrics``: JUnit viewers group cases by dotted class name."""
    parts = PurePosixPath(path.replace("\\", "/")).with_suffix("").parts if path not in ("", "-") else (path,)
    return ".".join(part for part in parts if part not in ("/", ".", "..")) or path


def _suite(path: str, findings: List[Finding]) -> ET.Element:
    suite = ET.Element(
        "testsuite",
        name=_xml(path),
        tests=str(max(1, len(findings))),
        failures=str(len(findings)),
        errors="0",
        skipped="0",
        time="0",
    )
    if not findings:
        ET.SubElement(suite, "testcase", name=PASSED, classname=_xml(classname(path)), file=_xml(path), time="0")
    for finding in findings:
        case = ET.SubElement(
            suite,
            "testcase",
            name=f"{finding.code} {finding.name} at {finding.line}:{finding.column}",
            classname=_xml(classname(path)),
            file=_xml(path),
            line=str(finding.line),
            time="0",
        )
        failure = ET.SubElement(case, "failure", message=_xml(finding.message), type=finding.code)
        failure.text = _xml(f"{line(finding)}\nseverity: {finding.severity.value}")
    return suite


def document(result: RunResult) -> ET.Element:
    by_path: Dict[str, List[Finding]] = {file.display_path: [] for file in result.files}
    for finding in result.findings:
        by_path.setdefault(finding.path, []).append(finding)
    failures = sum(len(found) for found in by_path.values())
    tests = sum(max(1, len(found)) for found in by_path.values())
    root = ET.Element("testsuites", name="zmqlint", tests=str(tests), failures=str(failures), errors="0", time="0")
    for path, findings in by_path.items():
        root.append(_suite(path, findings))
    return root


def render(result: RunResult, stream: TextIO) -> None:
    root = document(result)
    ET.indent(root)
    stream.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    stream.write(ET.tostring(root, encoding="unicode"))
    stream.write("\n")
