"""Real corpora: the interpreter's standard library and every installed package.

Every Python file of the standard library and of each site-packages folder is linted with every
rule; then each file that has a fix to offer gets ``--fix --unsafe-fixes`` applied to a copy of
its top-level package. Must hold: no internal error (a rule or the engine crashing) on any file,
every fixed file that compiled before still compiles, and fixing the copy again changes nothing.

How much runs is set by environment variables:

- ``ZMQLINT_CORPUS_SHARE``: the fraction of files checked, from a deterministic sample (a file
  is in the sample when the SHA-1 of its path relative to its root falls below the share).
  Default 0.003 (about 45 of the 14,600 files here: a minute or two on 2 idle cores).
  ``ZMQLINT_CORPUS_SHARE=1`` is the full run (see docs/robustness.md for its time and numbers).
- ``ZMQLINT_CORPUS_JOBS``: worker processes (default: the CPUs available).
- ``ZMQLINT_CORPUS_REPORT``: a path; the run's numbers (files, findings by code, crashes,
  compile regressions, time) are written there as JSON.

The test is marked ``slow``. CI runs a bounded share of it, for example::

    ZMQLINT_CORPUS_SHARE=0.05 python -m pytest -m slow tests/test_corpus.py -p no:randomly

and the full run is::

    ZMQLINT_CORPUS_SHARE=1 ZMQLINT_CORPUS_REPORT=corpus.json \\
        python -m pytest -m slow tests/test_corpus.py --timeout 3600 -s

`test_corpus_smoke` (not slow) checks a fixed handful of standard-library modules on every run.
"""

from __future__ import annotations

import collections
import hashlib
import json
import os
import shutil
import site
import sysconfig
import time
import traceback
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from zmqlint.config import Config
from zmqlint.engine import Engine, FixMode, compiles
from zmqlint.source import SourceError, SourceFile

DEFAULT_SHARE = 0.003


def corpus_roots() -> List[Path]:
    """The standard library and every site-packages folder of this interpreter."""
    roots = [Path(sysconfig.get_paths()["stdlib"])]
    for folder in [*site.getsitepackages(), site.getusersitepackages()]:
        path = Path(folder)
        if path.is_dir() and path not in roots:
            roots.append(path)
    return roots


def corpus_files(share: float) -> List[Tuple[Path, Path]]:
    """(root, file) for the sampled Python files under every root, sorted."""
    roots = corpus_roots()
    found: List[Tuple[Path, Path]] = []
    for root in roots:
        for folder, dirs, files in os.walk(root):
            folder_path = Path(folder)
            # Another root nested in this one (site-packages inside the stdlib) is its own root.
            dirs[:] = sorted(d for d in dirs if folder_path / d not in roots and d != "__pycache__")
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                path = folder_path / name
                if path.is_symlink() or not path.is_file():
                    continue
                rel = path.relative_to(root).as_posix()
                if share >= 1 or _sample_point(rel) < share:
                    found.append((root, path))
    return found


def _sample_point(rel: str) -> float:
    return int(hashlib.sha1(rel.encode("utf-8", "surrogateescape")).hexdigest()[:8], 16) / 0x100000000


# -- one worker process -----------------------------------------------------------------------

_ENGINES: Dict[Tuple[str, str], Engine] = {}


def _engine(root: Path, mode: FixMode) -> Engine:
    key = (str(root), mode.name)
    if key not in _ENGINES:
        _ENGINES[key] = Engine(Config.from_table({}, root=root), fix_mode=mode)
    return _ENGINES[key]


def _compiles_file(path: Path) -> bool:
    try:
        text = SourceFile.read(path).text
    except SourceError:
        return False
    return "\0" not in text and compiles(text, str(path))


def lint_one(root: Path, path: Path) -> dict:
    """Lint one corpus file: its finding codes, internal errors, whether a fix is on offer."""
    started = time.perf_counter()
    errors: List[str] = []
    codes: List[str] = []
    fixable = False
    try:
        result = _engine(root, FixMode.NONE).check_file(path, str(path), write=False)
        errors.extend(result.errors)
        codes = [f.code for f in result.findings]
        fixable = any(FixMode.UNSAFE.allows(f.fix) for f in result.findings)
    except Exception:  # an exception escaping the engine is a crash
        errors.append(f"{path}: exception escaped: {traceback.format_exc(limit=8)}")
    return {
        "root": str(root),
        "path": str(path),
        "codes": codes,
        "errors": errors,
        "fixable": fixable,
        "seconds": time.perf_counter() - started,
    }


def fix_one(root: Path, path: Path, work: Path) -> dict:
    """``--fix --unsafe-fixes`` on a copy of ``path``'s top-level package under ``work``; then
    check the copy compiles if the original did, and that a second run changes nothing."""
    rel = path.relative_to(root)
    top = rel.parts[0]
    copy_root = work / hashlib.sha1(str(path).encode("utf-8", "surrogateescape")).hexdigest()[:12]
    source_top = root / top
    if source_top.is_dir():
        shutil.copytree(
            source_top,
            copy_root / top,
            ignore=lambda folder, names: [n for n in names if not (n.endswith(".py") or os.path.isdir(os.path.join(folder, n)))],
            symlinks=True,
        )
    else:
        (copy_root / top).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source_top, copy_root / top)
    target = copy_root / rel
    compiled_before = _compiles_file(path)
    outcome = {"path": str(path), "errors": [], "fixes": 0, "regression": False, "not_idempotent": False, "notes": []}
    try:
        first = Engine(Config.from_table({}, root=copy_root), fix_mode=FixMode.UNSAFE).check_file(target, str(rel))
        outcome["errors"].extend(first.errors)
        outcome["fixes"] = first.fixes_applied
        outcome["notes"].extend(first.notes)
        if compiled_before and not _compiles_file(target):
            outcome["regression"] = True
        after_first = target.read_bytes()
        second = Engine(Config.from_table({}, root=copy_root), fix_mode=FixMode.UNSAFE).check_file(target, str(rel))
        outcome["errors"].extend(second.errors)
        if second.fixes_applied or target.read_bytes() != after_first:
            outcome["not_idempotent"] = True
    except Exception:
        outcome["errors"].append(f"{path}: exception escaped while fixing: {traceback.format_exc(limit=8)}")
    finally:
        shutil.rmtree(copy_root, ignore_errors=True)
    return outcome


def _lint_batch(batch: List[Tuple[str, str]]) -> List[dict]:
    return [lint_one(Path(root), Path(path)) for root, path in batch]


def _fix_batch(batch: List[Tuple[str, str]], work: str) -> List[dict]:
    return [fix_one(Path(root), Path(path), Path(work)) for root, path in batch]


def _batches(items: List[Tuple[str, str]], size: int) -> List[List[Tuple[str, str]]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def run_corpus(files: List[Tuple[Path, Path]], work: Path, jobs: int) -> dict:
    started = time.perf_counter()
    items = [(str(root), str(path)) for root, path in files]
    linted: List[dict] = []
    fixed: List[dict] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        # Files of one root stay together so each worker's project index is reused.
        for part in pool.map(_lint_batch, _batches(items, 20)):
            linted.extend(part)
        lint_seconds = time.perf_counter() - started
        to_fix = [(r["root"], r["path"]) for r in linted if r["fixable"] and not r["errors"]]
        for part in pool.map(_fix_batch, _batches(to_fix, 5), [str(work)] * len(to_fix)):
            fixed.extend(part)
    by_code = collections.Counter(code for r in linted for code in r["codes"])
    slowest = sorted(linted, key=lambda r: -r["seconds"])[:10]
    return {
        "files": len(linted),
        "seconds": round(time.perf_counter() - started, 1),
        "lint_seconds": round(lint_seconds, 1),
        "findings": sum(by_code.values()),
        "findings_by_code": dict(sorted(by_code.items())),
        "files_with_findings": sum(1 for r in linted if r["codes"]),
        "crashes": [e for r in linted for e in r["errors"]] + [e for r in fixed for e in r["errors"]],
        "files_fixed": sum(1 for r in fixed if r["fixes"]),
        "fixes_applied": sum(r["fixes"] for r in fixed),
        "compile_regressions": [r["path"] for r in fixed if r["regression"]],
        "not_idempotent": [r["path"] for r in fixed if r["not_idempotent"]],
        "dropped_fix_notes": sum(1 for r in fixed for n in r["notes"] if "dropped" in n),
        "slowest": [(r["path"], round(r["seconds"], 2)) for r in slowest],
    }


def _check(report: dict) -> None:
    assert report["files"] > 0
    assert not report["crashes"], "\n".join(report["crashes"][:20])
    assert not report["compile_regressions"], report["compile_regressions"]
    assert not report["not_idempotent"], report["not_idempotent"]


@pytest.mark.slow
@pytest.mark.timeout(0)
def test_corpus(tmp_path):
    share = float(os.environ.get("ZMQLINT_CORPUS_SHARE", DEFAULT_SHARE))
    jobs = int(os.environ.get("ZMQLINT_CORPUS_JOBS", 0)) or max(1, len(os.sched_getaffinity(0)))
    files = corpus_files(share)
    report = run_corpus(files, tmp_path, jobs)
    report["share"] = share
    out = os.environ.get("ZMQLINT_CORPUS_REPORT")
    if out:
        Path(out).write_text(json.dumps(report, indent=2))
    print(json.dumps({k: v for k, v in report.items() if k != "slowest"}, indent=2)[:4000])
    _check(report)


#: Small modules: cgitb has bare excepts (the fix path), two are Python 2 code that does not
#: parse (the tolerant path).
SMOKE_MODULES = ("json/decoder.py", "cgitb.py", "lib2to3/tests/data/bom.py", "lib2to3/tests/data/py2_test_grammar.py")


@pytest.mark.timeout(600)
def test_corpus_smoke(tmp_path):
    """A fixed handful of standard-library modules through lint and fix, in this process."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    chosen = [(stdlib, stdlib / rel) for rel in SMOKE_MODULES if (stdlib / rel).is_file()]
    assert chosen
    linted = [lint_one(root, path) for root, path in chosen]
    fixed = [fix_one(Path(r["root"]), Path(r["path"]), tmp_path) for r in linted if r["fixable"]]
    for record in linted + fixed:
        assert not record["errors"], record["errors"]
    assert any(record["fixes"] for record in fixed), "the smoke sample should exercise fixes"
    for record in fixed:
        assert not record["regression"] and not record["not_idempotent"], record
