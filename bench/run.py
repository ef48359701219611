"""Benchmark zmqlint against bandit, ruff and fixit on a real corpus, as whole processes.

    python bench/run.py                 # build the corpus if needed, run everything, write RESULTS.md
    python bench/run.py --runs 5        # more repetitions
    python bench/run.py --quick         # one run each, fixit on its slice only (for a loaded machine)

The corpus (bench/.corpus/tree, never committed) is this interpreter's standard library plus
pinned source distributions fetched with pip (`PACKAGES`). Each tool runs as a separate process;
wall time is `time.perf_counter()` around the process, CPU time and peak memory (the largest
single process of the tool's process tree: workers included) come from
`resource.getrusage(RUSAGE_CHILDREN)` in a small wrapper process per run. Medians are reported.

Figures:

- zmqlint cold: `--no-cache`, every file checked, default jobs (the CPU count).
- zmqlint warm: cache primed, nothing changed.
- zmqlint warm, one file edited: a different comment appended to one module each time.
- bandit: the tests closest to zmqlint's rules (B102 exec, B307 eval, B301 pickle, B110/B112
  try-except-pass/continue).
- ruff: `--select S,BLE,E722` (flake8-bandit, blind except, bare except), no cache.
- fixit: its default rules. Fixit is slow enough that it runs on a fixed slice of the corpus
  (`--fixit-files`, default 400 files); zmqlint cold runs on the same slice for the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence

HERE = Path(__file__).resolve().parent
CORPUS = HERE / ".corpus"
SDISTS = CORPUS / "sdists"
TREE = CORPUS / "tree"

#: name, version, the package folder inside the sdist that is linted.
PACKAGES = [
    ("django", "5.0.6", "django"),
    ("jupyter_client", "8.6.2", "jupyter_client"),
    ("ipykernel", "6.29.4", "ipykernel"),
    ("locust", "2.29.0", "locust"),
]
# pyzmq's sdists (26.0.3, 26.2.0) cannot even produce their metadata with the scikit-build-core
# pip installs today, so `pip download` fails on them; the corpus goes without pyzmq.

BANDIT_TESTS = "B102,B110,B112,B301,B307"
RUFF_SELECT = "S,BLE,E722"

#: Runs one command, then prints its wall time, CPU time and the peak RSS of its process tree.
_MEASURE = r"""
import json, resource, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "rss_mb": usage.ru_maxrss / 1024,
                  "status": proc.returncode, "stderr": proc.stderr.decode(errors="replace")[-2000:]}))
"""


# -- corpus --------------------------------------------------------------------------------


def fetch(name: str, version: str) -> Optional[Path]:
    """The pinned sdist, downloaded with pip into bench/.corpus/sdists once."""
    SDISTS.mkdir(parents=True, exist_ok=True)
    for candidate in SDISTS.iterdir():
        lowered = candidate.name.lower().replace("-", "_")
        if lowered.startswith(f"{name.lower()}_{version}") and candidate.name.endswith((".tar.gz", ".zip")):
            return candidate
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", name, "-d", str(SDISTS), f"{name}=={version}"]
    print("fetching", " ".join(command[3:]), file=sys.stderr)
    if subprocess.run(command, stdout=subprocess.DEVNULL).returncode != 0:
        print(f"  could not fetch {name}=={version}; left out of the corpus", file=sys.stderr)
        return None
    return fetch(name, version)


def build_corpus(packages: Sequence[tuple] = PACKAGES) -> Path:
    """bench/.corpus/tree: stdlib/ plus one folder per package (rebuilt when missing)."""
    marker = TREE / "pyproject.toml"
    if marker.is_file():
        return TREE
    if TREE.exists():
        shutil.rmtree(TREE)
    TREE.mkdir(parents=True)
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "__pycache__", "idlelib", "turtledemo", "ensurepip"}
    for source in stdlib.rglob("*.py"):
        rel = source.relative_to(stdlib)
        if skip & set(rel.parts) or rel.parts[0] in ("test", "lib2to3") and "data" in rel.parts:
            continue
        target = TREE / "stdlib" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
    for name, version, folder in packages:
        sdist = fetch(name, version)
        if sdist is None:
            continue
        with tarfile.open(sdist) as archive:
            top = archive.getnames()[0].split("/")[0]
            members = [m for m in archive.getmembers() if m.name.startswith(f"{top}/{folder}/") and m.name.endswith(".py")]
            for member in members:
                member.name = member.name[len(top) + 1 :]
            archive.extractall(TREE / name, members=members)
    # An explicit (empty) configuration: the project root, where zmqlint keeps its cache.
    marker.write_text("[tool.zmqlint]\n")
    return TREE


def sample_corpus(tree: Path, count: int) -> Path:
    """bench/.corpus/sample-<count>: every k-th file of the corpus, same relative paths."""
    target = CORPUS / f"sample-{count}"
    if (target / "pyproject.toml").is_file():
        return target
    shutil.rmtree(target, ignore_errors=True)
    files = python_files(tree)
    for source in files[:: max(1, len(files) // count)]:
        copy = target / source.relative_to(tree)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, copy)
    (target / "pyproject.toml").write_text("[tool.zmqlint]\n")
    return target


def python_files(root: Path) -> List[Path]:
    return sorted(p for p in root.rglob("*.py") if ".zmqlint_cache" not in p.parts)


# -- measuring -----------------------------------------------------------------------------


@dataclass
class Figure:
    label: str
    files: int
    walls: List[float] = field(default_factory=list)
    cpus: List[float] = field(default_factory=list)
    rss: List[float] = field(default_factory=list)
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def cpu(self) -> float:
        return statistics.median(self.cpus)

    @property
    def peak_mb(self) -> float:
        return max(self.rss)


def measure(command: Sequence[str], cwd: Path, ok=(0, 1)) -> dict:
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *command], cwd=cwd, capture_output=True, text=True)
    data = json.loads(proc.stdout)
    if data["status"] not in ok:
        raise SystemExit(f"{' '.join(command)} exited {data['status']}:\n{data['stderr']}")
    return data


def repeat(figure: Figure, command: Sequence[str], cwd: Path, runs: int, before=None, ok=(0, 1)) -> Figure:
    for number in range(runs):
        if before is not None:
            before(number)
        data = measure(command, cwd, ok=ok)
        figure.walls.append(data["wall"])
        figure.cpus.append(data["cpu"])
        figure.rss.append(data["rss_mb"])
        print(f"  {figure.label}: {data['wall']:.2f} s wall, {data['cpu']:.2f} s CPU, {data['rss_mb']:.0f} MB", file=sys.stderr)
    return figure


def zmqlint(*args: str) -> List[str]:
    return [sys.executable, "-m", "zmqlint", "--quiet", "--exit-zero", *args]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each figure (median reported)")
    parser.add_argument("--slow-runs", type=int, default=None, help="repetitions of the cold runs (default: --runs)")
    parser.add_argument("--fixit-files", type=int, default=400, help="size of the slice fixit is compared on")
    parser.add_argument("--quick", action="store_true", help="one run of each cold figure")
    parser.add_argument("--sample", type=int, default=0, help="run on every k-th corpus file, about this many (0: all)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    slow_runs = 1 if args.quick else (args.slow_runs or args.runs)

    tree = build_corpus()
    if args.sample:
        tree = sample_corpus(tree, args.sample)
    files = python_files(tree)
    stdlib_files = python_files(tree / "stdlib")
    print(f"corpus: {len(files)} files ({len(stdlib_files)} from the standard library) in {tree}", file=sys.stderr)
    figures: Dict[str, Figure] = {}

    # zmqlint -------------------------------------------------------------------------------
    cache = tree / ".zmqlint_cache"
    shutil.rmtree(cache, ignore_errors=True)
    figures["zmq_cold"] = repeat(Figure("zmqlint cold (--no-cache)", len(files)), zmqlint("--no-cache", "."), tree, slow_runs)
    figures["zmq_prime"] = repeat(Figure("zmqlint cold, writing the cache", len(files)), zmqlint("."), tree, 1)
    figures["zmq_warm"] = repeat(Figure("zmqlint warm, nothing changed", len(files)), zmqlint("."), tree, args.runs)
    figures["zmq_warm_std"] = repeat(
        Figure("zmqlint warm, nothing changed (stdlib part)", len(stdlib_files)), zmqlint("stdlib"), tree, args.runs
    )
    edited = stdlib_files[len(stdlib_files) // 2]
    original = edited.read_bytes()

    def edit(number: int) -> None:
        edited.write_bytes(original + f"\n# benchmark edit {time.time_ns()}\n".encode())

    try:
        figures["zmq_edit"] = repeat(
            Figure("zmqlint warm, one file edited", len(files)), zmqlint("."), tree, args.runs, before=edit
        )
    finally:
        edited.write_bytes(original)
        measure(zmqlint("."), tree)

    # peers ---------------------------------------------------------------------------------
    figures["bandit"] = repeat(
        Figure(f"bandit -t {BANDIT_TESTS}", len(files)),
        ["bandit", "-q", "-r", ".", "-t", BANDIT_TESTS, "-f", "json", "-o", os.devnull, "--exit-zero"],
        tree,
        slow_runs,
    )
    figures["ruff"] = repeat(
        Figure(f"ruff --select {RUFF_SELECT}", len(files)),
        ["ruff", "check", "--no-cache", "--select", RUFF_SELECT, "--exit-zero", "-q", "."],
        tree,
        args.runs,
    )
    step = max(1, len(files) // args.fixit_files)
    fixit_slice = [str(p.relative_to(tree)) for p in files[::step]][: args.fixit_files]
    figures["fixit"] = repeat(
        Figure("fixit lint (default rules), slice", len(fixit_slice)), ["fixit", "lint", *fixit_slice], tree, slow_runs, ok=(0, 1, 2)
    )
    if len(fixit_slice) == len(files):
        figures["zmq_slice"] = figures["zmq_cold"]  # the slice is the whole corpus
    else:
        figures["zmq_slice"] = repeat(
            Figure("zmqlint cold (--no-cache), same slice", len(fixit_slice)), zmqlint("--no-cache", *fixit_slice), tree, slow_runs
        )

    table = render(figures, len(files), len(stdlib_files))
    print(table)
    args.output.write_text(table)
    update_readme(table)
    print(f"written to {args.output} and {README}", file=sys.stderr)
    return 0


README = HERE / "README.md"
BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def update_readme(table: str) -> None:
    """Put the latest table between the README's result markers."""
    text = README.read_text() if README.is_file() else f"{BEGIN}\n{END}\n"
    if BEGIN not in text or END not in text:
        text += f"\n{BEGIN}\n{END}\n"
    head, _, rest = text.partition(BEGIN)
    _, _, tail = rest.partition(END)
    body = table.replace("# zmqlint benchmark\n", "").strip()
    README.write_text(f"{head}{BEGIN}\n{body}\n{END}{tail}")


def render(figures: Dict[str, Figure], total: int, stdlib: int) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    lines = [
        "# zmqlint benchmark",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.machine()} · {cpus} CPUs · "
        f"{platform.python_implementation()} {platform.python_version()} · {platform.platform()} · load average at the end {load}",
        "",
        f"Corpus: {total} Python files ({stdlib} from the standard library, the rest from "
        + ", ".join(f"{n} {v}" for n, v, _ in PACKAGES)
        + "). Medians of whole-process runs; CPU is user+system of the whole process tree; peak memory is the largest single process.",
        "",
        "| figure | files | wall (s) | CPU (s) | peak MB |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for key, figure in figures.items():
        if key == "zmq_slice" and figure is figures["zmq_cold"]:
            continue
        lines.append(
            f"| {figure.label} | {figure.files} | {figure.wall:.2f} | {figure.cpu:.2f} | {figure.peak_mb:.0f} |"
        )
    cold, bandit, fixit, piece = figures["zmq_cold"], figures["bandit"], figures["fixit"], figures["zmq_slice"]
    lines += [
        "",
        "| target | measured | met |",
        "| --- | --- | --- |",
        _row("cold, whole corpus, vs bandit", f"{cold.wall / bandit.wall:.2f}x bandit's wall ({cold.cpu / bandit.cpu:.2f}x its CPU)", cold.wall <= 0.5 * bandit.wall, "<= 0.5x"),
        _row("vs fixit (same slice)", f"{fixit.wall / piece.wall:.1f}x faster wall ({fixit.cpu / piece.cpu:.1f}x less CPU)", fixit.wall >= 10 * piece.wall, ">= 10x"),
        _row(f"warm, nothing changed ({figures['zmq_warm_std'].files} files)", f"{figures['zmq_warm_std'].wall:.2f} s", figures["zmq_warm_std"].wall <= 1.0, "<= 1.0 s"),
        _row(f"warm, nothing changed ({figures['zmq_warm'].files} files)", f"{figures['zmq_warm'].wall:.2f} s", figures["zmq_warm"].wall <= 1.0, "<= 1.0 s"),
        _row("warm, one file edited", f"{figures['zmq_edit'].wall:.2f} s", figures["zmq_edit"].wall <= 2.0, "<= 2.0 s"),
        _row("peak memory (largest process)", f"{max(f.peak_mb for k, f in figures.items() if k.startswith('zmq')):.0f} MB",
             max(f.peak_mb for k, f in figures.items() if k.startswith("zmq")) <= 400, "<= 400 MB"),
        "",
    ]
    return "\n".join(lines)


def _row(name: str, measured: str, met: bool, target: str) -> str:
    return f"| {name} ({target}) | {measured} | {'yes' if met else '**no**'} |"


if __name__ == "__main__":
    sys.exit(main())
