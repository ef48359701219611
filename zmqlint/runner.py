"""A run over the paths a user named: discovery, the cache, the engine per file (in this process
or a pool of worker processes), results in a stable order.

The output of a run does not depend on how it was executed: files are reported in discovery
order whatever the number of jobs, and a result read back from the cache is reported exactly as
a fresh one. Each worker process keeps its own `Engine` and project index; a file is checked
(and, when fixing, rewritten) by exactly one worker. Runs with few files to check stay in this
process, where they do not pay for starting workers.

When fixing, every file is analysed against the project as it was when the run started: the
workers compute the fixed text, and this process writes the fixed files once all are checked.
So which fixes a file gets never depends on which other files happened to be fixed before it.
"""

from __future__ import annotations

import gc
import os
import sys
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional, Sequence, Tuple

from zmqlint.config import Config
from zmqlint.discovery import discover
from zmqlint.model import FileResult, Finding, FixMode

if TYPE_CHECKING:  # pragma: no cover
    from zmqlint.cache import ResultCache
    from zmqlint.engine import Engine

#: Fewer files than this per worker and starting the worker costs more than it saves.
MIN_FILES_PER_WORKER = 12
#: A worker starts a fresh project index once the one it has holds this many characters of
#: source, which bounds its memory (the ``ast`` of a module takes some 50 bytes per character).
#: Measured on the stdlib+django bench part: 6M was no faster over three runs and took the peak
#: from about 330 MB to 393 MB, next to the 400 MB bound.
INDEX_BUDGET = 5_000_000
#: Of which a new index takes over from the one it replaces, for the modules most files used
#: (at most a fifth of the budget).
CARRIED_OVER = 1_000_000

#: ``progress(done, total)`` after each file checked.
ProgressCallback = Callable[[int, int], None]


@dataclass
class RunResult:
    files: List[FileResult] = field(default_factory=list)
    notes: List[str] = field(default_factory=list)
    errors: List[str] = field(default_factory=list)
    extra_findings: List[Finding] = field(default_factory=list)

    @property
    def findings(self) -> List[Finding]:
        found = [f for r in self.files for f in r.findings] + self.extra_findings
        return sorted(found, key=lambda f: f.sort_key)

    @property
    def fixes_applied(self) -> int:
        return sum(r.fixes_applied for r in self.files)

    @property
    def files_fixed(self) -> int:
        return sum(1 for r in self.files if r.fixed_text is not None)

    def diff(self) -> str:
        return "".join(r.diff() for r in self.files)


def default_jobs() -> int:
    """The CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run(
    paths: Sequence[str],
    config: Config,
    *,
    fix_mode: FixMode = FixMode.NONE,
    write: bool = True,
    jobs: int = 1,
    use_cache: bool = False,
    use_prefilter: bool = True,
    progress: Optional[ProgressCallback] = None,
) -> RunResult:
    """Lint (and fix) every Python file under ``paths``.

    ``jobs`` worker processes check the files (1: all in this process); ``use_cache`` reuses
    the results of earlier runs for files that did not change (see `zmqlint.cache`).
    """
    discovered = discover(paths, config)
    result = RunResult(notes=list(discovered.notes))
    if discovered.unreadable and config.enabled_codes(["E902"]):
        from zmqlint.engine import engine_finding

        for shown, message in discovered.unreadable:
            result.extra_findings.append(engine_finding(shown, "E902", f"cannot read: {message}"))

    cache = _open_cache(config) if use_cache else None
    results: List[Optional[FileResult]] = [None] * len(discovered.files)
    todo: List[int] = []
    for number, (path, shown) in enumerate(discovered.files):
        cached = cache.lookup(path, shown) if cache is not None else None
        if cached is not None and not any(fix_mode.allows(f.fix) for f in cached.findings):
            results[number] = cached
        else:
            todo.append(number)

    worker = _Worker(config, fix_mode, use_prefilter)
    if todo:
        tasks = [(number, *discovered.files[number]) for number in todo]
        for number, file_result in _check_all(worker, tasks, jobs, progress):
            results[number] = file_result
            if cache is not None:
                cache.store(file_result)
    if cache is not None:
        cache.save()
    if write:
        for file_result in results:
            if file_result is not None and file_result.fixed_text is not None:
                _write_fixed(worker, file_result)

    for file_result in results:
        assert file_result is not None
        result.files.append(file_result)
        result.notes.extend(file_result.notes)
        result.errors.extend(file_result.errors)
    if any(file.applied_fix_meta for file in result.files):
        result.notes.extend(run_notes(worker.engine(), result))
    return result


def run_stdin(
    shown: str,
    content: bytes,
    config: Config,
    *,
    fix_mode: FixMode = FixMode.NONE,
    use_prefilter: bool = True,
) -> RunResult:
    """Lint (and fix) ``content``, read from standard input, as the file ``shown`` (a path as
    the user named it, which need not exist): its configuration, per-file ignores, module name
    and imports are those of that path. Nothing is written; with a fix mode, the fixed text is
    the result's ``fixed_text``. No cache: the text on standard input is not the file's."""
    path = Path(os.path.realpath(shown))
    worker = _Worker(config, fix_mode, use_prefilter)
    engine = worker.engine()
    try:
        file_result = engine.check_file(path, shown, write=False, content=content)
    except Exception as exc:  # a bug outside any rule: reported, never a bare traceback
        detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        file_result = FileResult(path=path, display_path=shown, errors=[f"{shown}: internal error: {detail}"])
    result = RunResult(files=[file_result], notes=list(file_result.notes), errors=list(file_result.errors))
    if file_result.applied_fix_meta:
        result.notes.extend(run_notes(engine, result))
    return result


def run_notes(engine: "Engine", result: RunResult) -> List[str]:
    """The selected rules' notes about the fixes applied in the whole run (``Rule.RUN_NOTES``)."""
    records = [record for file in result.files for record in file.applied_fix_meta]
    if not records:
        return []
    notes: List[str] = []
    seen = []
    for rule in engine.rules:
        summarize = rule.RUN_NOTES
        if summarize is not None and summarize not in seen:
            seen.append(summarize)
            notes.extend(summarize(records))
    return notes


def _open_cache(config: Config) -> Optional["ResultCache"]:
    from zmqlint.cache import ResultCache

    try:
        return ResultCache.for_config(config)
    except OSError:
        return None


# -- checking files ------------------------------------------------------------------------

Task = Tuple[int, Path, str]


class _Worker:
    """Checks files with one lazily built `Engine` (one per process); computes fixes, never
    writes them."""

    def __init__(self, config: Config, fix_mode: FixMode, use_prefilter: bool) -> None:
        self.config = config
        self.fix_mode = fix_mode
        self.use_prefilter = use_prefilter
        self._engine: Optional["Engine"] = None

    def engine(self) -> "Engine":
        if self._engine is None or self._engine.index.source_size >= INDEX_BUDGET:
            from zmqlint.engine import Engine
            from zmqlint.index import ProjectIndex

            index = ProjectIndex(self.config.root, self.config.source_roots)
            if self._engine is not None:
                self._engine.index.hand_over(index, min(CARRIED_OVER, INDEX_BUDGET // 5))
            self._drop_engine()
            self._engine = Engine(self.config, fix_mode=self.fix_mode, use_prefilter=self.use_prefilter, index=index)
            self._engine.before_cst_parse = _Collector.checkpoint
        return self._engine

    def _drop_engine(self) -> None:
        if self._engine is not None:
            self._engine.index.close()
            self._engine = None

    def check(self, path: Path, shown: str, *, portable: bool = False) -> FileResult:
        """``portable``: the result is to cross a process boundary (`_portable`); it is made so
        before the collection, so that what its fixes held is freed, not collected."""
        engine = self.engine()
        parses = engine.cst_parses
        try:
            result = engine.check_file(path, shown, write=False)
            if portable:
                result = _portable(result)
        except Exception as exc:  # a bug outside any rule: report it, keep the run going
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            return FileResult(path=path, display_path=shown, errors=[f"{shown}: internal error: {detail}"])
        finally:
            _Collector.file_done(collect=engine.cst_parses != parses)
        if result.fixed_text is not None:
            self._drop_engine()  # its index now holds the fixed text; later files see the original
        return result


class _Collector:
    """Garbage collection while files are checked.

    Python's cyclic collector traverses every tracked object it has not frozen, and it runs
    whenever enough objects were allocated: while LibCST parses a file, that is again and
    again over the whole project index (millions of ``ast`` nodes that stay alive anyway),
    which used to cost more than the parsing itself. So while checking, automatic collection
    is off and what exists is frozen (`gc.freeze`); after each file parsed with LibCST, one
    collection looks at the objects the file left behind (LibCST's scope analysis leaves
    cycles that hold the whole tree) and what survives is frozen. Analysing a file on the
    stdlib ``ast`` alone leaves no cycles worth a collection: its objects are frozen as they
    are. A dropped index is taken apart (`ProjectIndex.close`) for reference counting to
    free; the end of the run unfreezes everything.
    """

    active = False

    @classmethod
    @contextmanager
    def managing(cls) -> Iterator[None]:
        if cls.active:
            yield
            return
        was_enabled = gc.isenabled()
        cls.begin()
        try:
            yield
        finally:
            cls.active = False
            gc.unfreeze()
            if was_enabled:
                gc.enable()

    @classmethod
    def begin(cls) -> None:
        """From now on (a worker process: for its lifetime): collection off, all frozen."""
        cls.active = True
        gc.disable()
        gc.freeze()

    @classmethod
    def checkpoint(cls) -> None:
        """Before LibCST reads a file: freeze what exists (the index's new modules, the gates'
        facts: alive for the run), so that the collection after the file traverses only what
        the LibCST phase left."""
        if cls.active:
            gc.freeze()

    @classmethod
    def file_done(cls, *, collect: bool = True) -> None:
        if cls.active:
            if collect:
                gc.collect()
            gc.freeze()


def _check_all(
    worker: _Worker, tasks: List[Task], jobs: int, progress: Optional[ProgressCallback]
) -> List[Tuple[int, FileResult]]:
    workers = min(max(1, jobs), len(tasks) // MIN_FILES_PER_WORKER)
    if workers <= 1:
        return _check_here(worker, tasks, progress, done=0, total=len(tasks))
    return _check_in_pool(worker, tasks, workers, progress)


def _check_here(
    worker: _Worker, tasks: Sequence[Task], progress: Optional[ProgressCallback], *, done: int, total: int
) -> List[Tuple[int, FileResult]]:
    out = []
    with _Collector.managing():
        for number, path, shown in tasks:
            out.append((number, worker.check(path, shown)))
            done += 1
            if progress is not None:
                progress(done, total)
    return out


_PROCESS_WORKER: Optional[_Worker] = None


def _init_process(worker: _Worker) -> None:
    global _PROCESS_WORKER
    _PROCESS_WORKER = worker
    _Collector.begin()


def _check_chunk(tasks: Sequence[Task]) -> List[Tuple[int, FileResult]]:
    assert _PROCESS_WORKER is not None
    return [(number, _PROCESS_WORKER.check(path, shown, portable=True)) for number, path, shown in tasks]


def _write_fixed(worker: _Worker, result: FileResult) -> None:
    """Write ``result``'s fixed text over its file (as `Engine.check_file` would have); if the
    file changed meanwhile or cannot be written, keep it and report the original's findings."""
    from zmqlint.source import ConcurrentModification, SourceError, SourceFile

    note = None
    try:
        source = SourceFile.read(result.path)
        if source.text != result.original_text:
            raise ConcurrentModification(f"{result.path} changed on disk while it was being fixed; left as it was")
        source.write(result.fixed_text)
        return
    except ConcurrentModification as exc:
        note = str(exc)
    except (OSError, SourceError) as exc:
        note = f"{result.display_path}: cannot write the fixed file: {getattr(exc, 'strerror', None) or exc}"
    result.notes.append(note)
    result.fixed_text = None
    result.fixes_applied = 0
    result.applied_fix_meta.clear()
    findings, _, errors = worker.engine().lint_text(result.path, result.display_path, result.original_text)
    result.findings = findings
    result.errors.extend(errors)


def _portable(result: FileResult) -> FileResult:
    """``result`` without the CST nodes and transformers its fixes carry (they cannot cross a
    process boundary); what reporting needs (description, applicability) stays."""
    result.findings = [Finding.from_json(f.to_json()) for f in result.findings]
    return result


def _chunks(tasks: List[Task], workers: int) -> List[List[Task]]:
    """Runs of neighbouring files (in path order), the files larger than a run first and alone.

    Files of one package import the same modules: checked one after the other, they find
    those modules in the worker's project index instead of parsing them again (sorting the
    files by size scattered each package over the run and parsed the corpus's modules nearly
    three times over). A run holds a fixed share of the work still left (guided scheduling):
    long runs at first, short ones at the end, for the workers to finish together.
    """

    def size(task: Task) -> int:
        try:
            return os.stat(task[1]).st_size
        except OSError:
            return 0

    sized_tasks = [(size(task), task) for task in tasks]
    total = sum(sized for sized, _ in sized_tasks)
    alone = max(1, total // (workers * 64))
    shortest = max(1, total // (workers * 512))
    chunks = [[task] for sized, task in sorted(sized_tasks, key=lambda item: -item[0]) if sized >= alone]
    left = total - sum(sized for sized, _ in sized_tasks if sized >= alone)
    run: List[Task] = []
    run_size = 0
    for sized, task in sized_tasks:
        if sized >= alone:
            continue
        run.append(task)
        run_size += sized
        if run_size >= max(shortest, left // (workers * 16)):
            chunks.append(run)
            left -= run_size
            run, run_size = [], 0
    if run:
        chunks.append(run)
    return chunks


def _check_in_pool(
    worker: _Worker, tasks: List[Task], workers: int, progress: Optional[ProgressCallback]
) -> List[Tuple[int, FileResult]]:
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    # With fork, the workers inherit the rules (and LibCST) imported once here.
    from zmqlint.rules import all_rules

    all_rules()
    method = "fork" if sys.platform.startswith("linux") else None
    context = multiprocessing.get_context(method)
    out: List[Tuple[int, FileResult]] = []
    finished = set()
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_process, initargs=(worker,)) as pool:
            futures = [pool.submit(_check_chunk, chunk) for chunk in _chunks(tasks, workers)]
            for future in as_completed(futures):
                for number, file_result in future.result():
                    out.append((number, file_result))
                    finished.add(number)
                    if progress is not None:
                        progress(len(out), len(tasks))
    except BrokenProcessPool:
        # A worker died (killed, out of memory): check what is left here, one file at a time.
        rest = [task for task in tasks if task[0] not in finished]
        out.extend(_check_here(worker, rest, progress, done=len(out), total=len(tasks)))
    return out
