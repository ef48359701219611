"""Ecosystem check: zmqlint over real projects that use pyzmq, compared with reviewed labels.

    python bench/ecosystem.py                  # fetch (once), lint, compare, print the tables
    python bench/ecosystem.py --update         # also add new findings to the labels, unlabelled
    python bench/ecosystem.py --project osbrain --show unlabelled   # list findings to review
    python bench/ecosystem.py --json out.json  # the raw findings of this run (for byte diffs)

The corpus is pinned in ``bench/ecosystem/projects.json`` (name, version, source distribution,
sha256), downloaded from the package index once and unpacked into ``bench/.corpus/ecosystem``
(never committed). Each project is linted as a user would lint it: ``zmqlint check .`` in the
project's folder, every rule, no cache, in a separate process.

Every finding is matched against ``bench/ecosystem/labels.json``: one entry per finding, keyed
by the project, the path, the code, the text of the finding's first line (white space folded)
and its occurrence among identical keys, so the key survives lines added above it. Each entry
carries a verdict written by the person who read the code:

- ``true``: the failure the message describes can happen (the reviewer read the callees, the
  base classes, the other thread);
- ``false``: it cannot; the finding is wrong;
- ``intentional``: the code does what the message says, knowingly (a test that exercises the
  failure, a documented trade-off);
- ``unlabelled``: nobody has read it yet (``--update`` adds new findings so).

The table gives, per code, findings, each verdict, and precision = true / labelled (intentional
counts against it). Below it: findings that appeared (no label) and labelled findings that
vanished. The exit status is 1 when a finding has no label or a labelled one vanished (and the
labels were not updated), 0 otherwise; a fetch or lint failure exits 2.

Slow (a minute or two on 2 cores): it is a benchmark script, not part of the test suite.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Tuple

HERE = Path(__file__).resolve().parent
PROJECTS = HERE / "ecosystem" / "projects.json"
LABELS = HERE / "ecosystem" / "labels.json"
CACHE = HERE / ".corpus" / "ecosystem"
DOWNLOADS = CACHE / "downloads"

VERDICTS = ("true", "false", "intentional", "unlabelled")
#: Codes whose every finding is labelled; the rest (EXC601, SEC401, E999) on a seeded sample.
FULLY_LABELLED = ("ZMQ", "SER", "ASY", "THR", "SEC402", "SEC403")
#: How many findings of each other code are labelled: the first by a seeded hash of their key.
SAMPLE = 50
SAMPLE_SEED = "zmqlint-ecosystem-1"
_SPACE = re.compile(r"\s+")

Key = Tuple[str, str, str, str, int]


# -- corpus --------------------------------------------------------------------------------


def load_projects() -> List[dict]:
    return json.loads(PROJECTS.read_text(encoding="utf-8"))["projects"]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(project: dict) -> Path:
    """The project's unpacked source tree, downloaded and verified once."""
    tree = CACHE / f"{project['name']}-{project['version']}"
    marker = tree / ".zmqlint-ecosystem"
    if marker.is_file() and marker.read_text().strip() == project["sha256"]:
        return tree
    DOWNLOADS.mkdir(parents=True, exist_ok=True)
    archive = DOWNLOADS / project["file"]
    if not archive.is_file() or _sha256(archive) != project["sha256"]:
        print(f"fetching {project['file']}", file=sys.stderr)
        partial = archive.with_suffix(archive.suffix + ".part")
        with urllib.request.urlopen(project["url"], timeout=120) as response, partial.open("wb") as out:
            shutil.copyfileobj(response, out)
        if _sha256(partial) != project["sha256"]:
            partial.unlink()
            raise SystemExit(f"{project['file']}: sha256 does not match the pin")
        partial.replace(archive)
    if tree.exists():
        shutil.rmtree(tree)
    staging = tree.with_name(tree.name + ".unpacking")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    if archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as zipped:
            zipped.extractall(staging)
    else:
        with tarfile.open(archive) as tarred:
            tarred.extractall(staging, filter="data")
    entries = list(staging.iterdir())
    top = entries[0] if len(entries) == 1 and entries[0].is_dir() else staging
    top.rename(tree) if top is not staging else staging.rename(tree)
    if staging.exists():
        shutil.rmtree(staging)
    marker.write_text(project["sha256"] + "\n")
    return tree


# -- linting -------------------------------------------------------------------------------


def lint(tree: Path, jobs: Optional[int]) -> List[dict]:
    """zmqlint's JSON findings for one project, run in its folder as a user would."""
    command = [sys.executable, "-m", "zmqlint", "check", ".", "--format", "json", "--no-cache", "--exit-zero", "-q"]
    if jobs:
        command += ["--jobs", str(jobs)]
    proc = subprocess.run(command, cwd=tree, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"zmqlint failed on {tree.name} (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout or "[]")


def line_text(tree: Path, path: str, line: int, cache: Dict[str, List[str]]) -> str:
    if path not in cache:
        try:
            cache[path] = (tree / path).read_bytes().decode("utf-8", errors="replace").splitlines()
        except OSError:
            cache[path] = []
    lines = cache[path]
    text = lines[line - 1] if 0 < line <= len(lines) else ""
    return _SPACE.sub(" ", text).strip()


def keyed(project: str, tree: Path, findings: Iterable[dict]) -> List[Tuple[Key, dict]]:
    """Each finding with its key: project, path, code, first line's text, occurrence."""
    cache: Dict[str, List[str]] = {}
    seen: Counter = Counter()
    out = []
    for finding in sorted(findings, key=lambda f: (f["path"], f["line"], f["column"], f["code"])):
        path = finding["path"].replace("\\", "/")
        if path.startswith("./"):
            path = path[2:]
        text = line_text(tree, path, finding["line"], cache)
        base = (project, path, finding["code"], text)
        occurrence = seen[base]
        seen[base] += 1
        out.append(((*base, occurrence), finding))
    return out


# -- labels --------------------------------------------------------------------------------


def load_labels() -> Dict[Key, dict]:
    if not LABELS.is_file():
        return {}
    entries = json.loads(LABELS.read_text(encoding="utf-8"))["labels"]
    labels = {}
    for entry in entries:
        if entry.get("verdict") not in VERDICTS:
            raise SystemExit(f"labels.json: {entry.get('path')}: verdict must be one of {VERDICTS}")
        key = (entry["project"], entry["path"], entry["code"], entry["text"], entry.get("occurrence", 0))
        if key in labels:
            raise SystemExit(f"labels.json: the same finding is labelled twice: {key}")
        labels[key] = entry
    return labels


def save_labels(labels: Dict[Key, dict]) -> None:
    ordered = sorted(labels.values(), key=lambda e: (e["project"], e["path"], e.get("line", 0), e["code"], e.get("occurrence", 0)))
    about = (
        "Reviewed findings of bench/ecosystem.py. Key: project, path, code, the finding's first line "
        "(white space folded) and its occurrence among identical keys. verdict: true (the failure "
        "can happen), false (it cannot), intentional (the code means it), unlabelled (not read yet); "
        "reason: one line by the reviewer. 'line' and 'message' are informational."
    )
    data = {"about": about, "labels": ordered}
    LABELS.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def fully_labelled(code: str) -> bool:
    return code.startswith(FULLY_LABELLED)


def sample_rank(key: Key) -> str:
    """A finding's place in its code's seeded sample (stable while the finding is)."""
    return hashlib.sha256("\0".join([SAMPLE_SEED, *map(str, key)]).encode()).hexdigest()


def to_review(keys: Iterable[Key]) -> set:
    """The keys that must carry a verdict: every one of a fully labelled code, a sample of the rest."""
    by_code: Dict[str, List[Key]] = defaultdict(list)
    for key in keys:
        by_code[key[2]].append(key)
    chosen = set()
    for code, members in by_code.items():
        chosen.update(members if fully_labelled(code) else sorted(members, key=sample_rank)[:SAMPLE])
    return chosen


# -- report --------------------------------------------------------------------------------

COLUMNS = ("findings", "true", "false", "intentional", "unlabelled", "not sampled")


def table(rows: Dict[str, Counter], first: str = "code") -> str:
    lines = [
        f"| {first} | " + " | ".join(COLUMNS) + " | precision |",
        "| --- |" + " ---: |" * (len(COLUMNS) + 1),
    ]
    total: Counter = Counter()
    for name in sorted(rows):
        total.update(rows[name])
        lines.append(_row(name, rows[name], first == "code"))
    lines.append(_row("all", total, False))
    return "\n".join(lines)


def _row(name: str, counts: Counter, is_code: bool) -> str:
    labelled = counts["true"] + counts["false"] + counts["intentional"]
    precision = f"{counts['true'] / labelled:.0%}" if labelled else "-"
    marker = " (sample)" if is_code and not fully_labelled(name) else ""
    return f"| {name}{marker} | " + " | ".join(str(counts[c]) for c in COLUMNS) + f" | {precision} |"


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", action="append", help="only these projects (repeatable)")
    parser.add_argument("--update", action="store_true", help="write new findings to review into labels.json, unlabelled")
    parser.add_argument("--show", choices=VERDICTS + ("all", "appeared"), help="list findings with this verdict")
    parser.add_argument("--code", help="with --show: only codes starting with this")
    parser.add_argument("--json", type=Path, help="write this run's findings (with keys) to this file")
    parser.add_argument("--jobs", type=int, help="zmqlint --jobs (default: its own)")
    args = parser.parse_args(argv)

    projects = [p for p in load_projects() if not args.project or p["name"] in args.project]
    labels = load_labels()
    started = time.perf_counter()
    run: List[Tuple[Key, dict]] = []
    for project in projects:
        tree = fetch(project)
        t0 = time.perf_counter()
        findings = lint(tree, args.jobs)
        files = sum(1 for _ in tree.rglob("*.py"))
        print(f"{project['name']} {project['version']}: {files} files, {len(findings)} findings, {time.perf_counter() - t0:.1f} s", file=sys.stderr)
        run.extend(keyed(project["name"], tree, findings))
    review = to_review(key for key, _ in run)

    rows: Dict[str, Counter] = defaultdict(Counter)
    per_project: Dict[str, Counter] = defaultdict(Counter)
    appeared: List[Tuple[Key, dict]] = []
    listing: List[str] = []
    for key, finding in run:
        entry = labels.get(key)
        if entry is not None:
            verdict = entry["verdict"]
            if args.update:
                entry["line"], entry["message"] = finding["line"], finding["message"]
        elif key in review:
            verdict = "unlabelled"
            appeared.append((key, finding))
            if args.update:
                labels[key] = {
                    "project": key[0], "path": key[1], "code": key[2], "text": key[3], "occurrence": key[4],
                    "line": finding["line"], "message": finding["message"], "verdict": "unlabelled", "reason": "",
                }
        else:
            verdict = "not sampled"
        code = finding["code"]
        for counter in (rows[code], per_project[key[0]]):
            counter["findings"] += 1
            counter[verdict] += 1
        wanted = args.show in (verdict, "all") or (args.show == "appeared" and entry is None and key in review)
        if wanted and (not args.code or code.startswith(args.code)):
            note = f"[{verdict}] {entry['reason']}" if entry else f"[{verdict}]"
            listing.append(f"{key[0]}/{key[1]}:{finding['line']}:{finding['column']}: {code} {finding['message']}\n    {note}")
    seen = {key for key, _ in run}
    names = {p["name"] for p in projects}
    vanished = [entry for key, entry in labels.items() if key[0] in names and key not in seen]
    if args.update:
        for entry in vanished:
            del labels[(entry["project"], entry["path"], entry["code"], entry["text"], entry.get("occurrence", 0))]
        save_labels(labels)

    if listing:
        print("\n".join(listing), end="\n\n")
    print(table(rows))
    print()
    print(table(per_project, first="project"))
    scoped: Counter = Counter()
    for code, counts in rows.items():
        if fully_labelled(code):
            scoped.update(counts)
    labelled = scoped["true"] + scoped["false"] + scoped["intentional"]
    if labelled:
        print(
            f"\n{'/'.join(FULLY_LABELLED)}: {scoped['true']} of {labelled} labelled findings true "
            f"({scoped['true'] / labelled:.1%}); {scoped['unlabelled']} unlabelled"
        )
    print(f"appeared (to review, no label): {len(appeared)}; vanished (labelled, not found): {len(vanished)}")
    for key, finding in appeared[:50]:
        print(f"  + {key[0]}/{key[1]}:{finding['line']}: {key[2]} {finding['message'][:110]}")
    for entry in vanished[:50]:
        print(f"  - {entry['project']}/{entry['path']}:{entry.get('line')}: {entry['code']} [{entry['verdict']}] {entry.get('reason', '')[:90]}")
    print(f"({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    if args.json:
        raw = [{"key": list(key), **finding} for key, finding in run]
        args.json.write_text(json.dumps(raw, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    if args.update:
        return 0
    unlabelled = sum(c["unlabelled"] for c in rows.values())
    return 1 if (unlabelled or vanished) else 0


if __name__ == "__main__":
    sys.exit(main())
