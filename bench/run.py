"""Benchmark zmqlint against bandit, ruff and fixit on real corpora, as whole processes.

    python bench/run.py                 # build the corpora if needed, run everything, write RESULTS.md
    python bench/run.py --runs 5        # more repetitions
    python bench/run.py --quick         # one run of each cold figure (for a loaded machine)
    python bench/run.py --parts zmq,zmq-broken   # only some parts

Three parts, each reported on its own (bench/.corpus, never committed):

- ``stdlib+django``: this interpreter's standard library plus pinned source distributions
  fetched with pip (`PACKAGES`): code with little ZeroMQ in it, where the gates turn most
  files away.
- ``zmq``: the ZeroMQ projects of `bench/ecosystem.py` (pinned, sha256-checked, the same
  trees): code zmqlint is for, where almost every file has sockets, classes and threads.
- ``zmq-broken``: a copy of ``zmq`` in which a quarter of the files (chosen with a fixed seed)
  carry a syntax error at a random line: an unclosed bracket, or a stray closing bracket
  (checked with `compile`: a file that still compiles gets another line). The tolerant
  parser's repair passes are what this part measures.

Each tool runs as a separate process; wall time is `time.perf_counter()` around the process,
CPU time and peak memory (the largest single process of the tool's process tree: workers
included) come from `resource.getrusage(RUSAGE_CHILDREN)` in a small wrapper process per
run. Medians are reported; the peers run in the same run, on the same files, so the ratios
compare like with like on a machine whose load changes.

Figures, per part:

- zmqlint cold: `--no-cache`, every file checked, default jobs (the CPU count).
- bandit: `-r` with the tests closest to zmqlint's rules (B102 exec, B307 eval, B301 pickle,
  B110/B112 try-except-pass/continue); its default test set costs it more, not less.
- ruff: `--select S,BLE,E722` (flake8-bandit, blind except, bare except), no cache.
- fixit: its default rules, on a fixed slice of the part (`--fixit-files`, default 40 files:
  fixit is slow); zmqlint cold runs on the same slice for the ratio.

Warm figures (on the ``zmq`` part and on the ``stdlib+django`` part): cache primed, nothing
changed; and one file edited (a different comment appended to one module each time).

zmqlint is byte-compiled before the runs (`compile_zmqlint`), as pip does for an installed
package: the peers load their bytecode, and so does zmqlint, whatever PYTHONDONTWRITEBYTECODE
says.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import random
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
ZMQ_TREE = CORPUS / "zmq"
BROKEN_TREE = CORPUS / "zmq-broken"
#: The share of files of the broken copy that get a syntax error, and the seed choosing them.
BROKEN_SHARE = 0.25
BROKEN_SEED = "zmqlint-broken-1"

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


def build_zmq_corpus() -> Path:
    """bench/.corpus/zmq: the Python files of `bench/ecosystem.py`'s pinned projects."""
    marker = ZMQ_TREE / "pyproject.toml"
    if marker.is_file():
        return ZMQ_TREE
    sys.path.insert(0, str(HERE))
    import ecosystem  # bench/ecosystem.py: the pins, the download and the sha256 check

    if ZMQ_TREE.exists():
        shutil.rmtree(ZMQ_TREE)
    for project in ecosystem.load_projects():
        source = ecosystem.fetch(project)
        for path in python_files(source):
            target = ZMQ_TREE / source.name / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    marker.write_text("[tool.zmqlint]\n")
    return ZMQ_TREE


def build_broken_corpus(tree: Path) -> Path:
    """bench/.corpus/zmq-broken: ``tree`` with a syntax error in `BROKEN_SHARE` of its files."""
    marker = BROKEN_TREE / "pyproject.toml"
    if marker.is_file():
        return BROKEN_TREE
    if BROKEN_TREE.exists():
        shutil.rmtree(BROKEN_TREE)
    chooser = random.Random(BROKEN_SEED)
    files = python_files(tree)
    broken = set(chooser.sample(range(len(files)), round(len(files) * BROKEN_SHARE)))
    for number, path in enumerate(files):
        target = BROKEN_TREE / path.relative_to(tree)
        target.parent.mkdir(parents=True, exist_ok=True)
        data = path.read_bytes()
        if number in broken:
            data = break_source(data, chooser)
        target.write_bytes(data)
    marker.write_text("[tool.zmqlint]\n")
    return BROKEN_TREE


def break_source(data: bytes, chooser: random.Random) -> bytes:
    """``data`` with an unclosed bracket or a stray token at a random line (tried until it no
    longer compiles; a file that cannot be broken in ten tries is kept as it is)."""
    lines = data.splitlines(keepends=True) or [b"\n"]
    for _ in range(10):
        at = chooser.randrange(len(lines))
        line = lines[at]
        indent = line[: len(line) - len(line.lstrip(b" \t"))]
        if chooser.random() < 0.5:
            patched = lines[:at] + [indent + b"pending = (\n"] + lines[at:]  # an unclosed bracket
        else:
            body = line.rstrip(b"\r\n")
            patched = lines[:at] + [body + b" )" + line[len(body):]] + lines[at + 1 :]  # a stray token
        candidate = b"".join(patched)
        try:
            compile(candidate, "<bench>", "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            return candidate
    return data


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


PARTS = ("stdlib+django", "zmq", "zmq-broken")
#: Parts with warm figures (cache primed, then nothing changed / one file edited).
WARM_PARTS = ("stdlib+django", "zmq")
#: Cold wall time as a share of bandit's, per part.
COLD_TARGETS = {"stdlib+django": 0.3, "zmq": 0.5, "zmq-broken": 0.5}


def compile_zmqlint() -> None:
    """Byte-compile the zmqlint being measured, as `pip install` does for the peers' packages.

    An editable install gets its bytecode written by its first run, unless the environment
    sets PYTHONDONTWRITEBYTECODE (some CI images and sandboxes do): then every run would compile
    zmqlint's modules from source (about 0.3 s of each process here) while the peers load theirs
    from the bytecode pip wrote. `compileall` writes it whatever that setting says."""
    spec = importlib.util.find_spec("zmqlint")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return
    for folder in spec.submodule_search_locations:
        subprocess.run([sys.executable, "-m", "compileall", "-q", folder], check=False, stdout=subprocess.DEVNULL)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each figure (median reported)")
    parser.add_argument("--slow-runs", type=int, default=None, help="repetitions of the cold runs (default: --runs)")
    parser.add_argument("--fixit-files", type=int, default=40, help="size of the slice fixit is compared on, per part")
    parser.add_argument("--quick", action="store_true", help="one run of each cold figure")
    parser.add_argument("--sample", type=int, default=0, help="stdlib+django: every k-th file, about this many (0: all)")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated parts to run (default: {','.join(PARTS)})")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    args = parser.parse_args(argv)
    slow_runs = 1 if args.quick else (args.slow_runs or args.runs)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; known: {', '.join(PARTS)}")

    trees: Dict[str, Path] = {}
    if "stdlib+django" in parts:
        tree = build_corpus()
        trees["stdlib+django"] = sample_corpus(tree, args.sample) if args.sample else tree
    if "zmq" in parts or "zmq-broken" in parts:
        zmq_tree = build_zmq_corpus()
        if "zmq" in parts:
            trees["zmq"] = zmq_tree
        if "zmq-broken" in parts:
            trees["zmq-broken"] = build_broken_corpus(zmq_tree)
    compile_zmqlint()
    results = {part: run_part(part, tree, args, slow_runs) for part, tree in trees.items()}

    table = render(results, trees)
    print(table)
    args.output.write_text(table)
    update_readme(table)
    print(f"written to {args.output} and {README}", file=sys.stderr)
    return 0


def run_part(part: str, tree: Path, args, slow_runs: int) -> Dict[str, Figure]:
    files = python_files(tree)
    print(f"{part}: {len(files)} files in {tree}", file=sys.stderr)
    figures: Dict[str, Figure] = {}
    cache = tree / ".zmqlint_cache"
    shutil.rmtree(cache, ignore_errors=True)
    figures["zmq_cold"] = repeat(Figure("zmqlint cold (--no-cache)", len(files)), zmqlint("--no-cache", "."), tree, slow_runs)
    if part in WARM_PARTS:
        figures["zmq_prime"] = repeat(Figure("zmqlint cold, writing the cache", len(files)), zmqlint("."), tree, 1)
        figures["zmq_warm"] = repeat(Figure("zmqlint warm, nothing changed", len(files)), zmqlint("."), tree, args.runs)
        edited = files[len(files) // 2]
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
    figures["bandit"] = repeat(
        Figure(f"bandit -r -t {BANDIT_TESTS}", len(files)),
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
    # fixit exits with 1 | 2: lint findings (1) and files it could not lint (2, the broken part)
    figures["fixit"] = repeat(
        Figure("fixit lint (default rules), slice", len(fixit_slice)), ["fixit", "lint", *fixit_slice], tree, slow_runs, ok=(0, 1, 2, 3)
    )
    figures["zmq_slice"] = repeat(
        Figure("zmqlint cold (--no-cache), same slice", len(fixit_slice)), zmqlint("--no-cache", *fixit_slice), tree, slow_runs
    )
    return figures


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


def render(results: Dict[str, Dict[str, Figure]], trees: Dict[str, Path]) -> str:
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    try:
        load = " / ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    described = {
        "stdlib+django": "this interpreter's standard library and " + ", ".join(f"{n} {v}" for n, v, _ in PACKAGES),
        "zmq": "the ZeroMQ projects of bench/ecosystem.py",
        "zmq-broken": f"the same with a syntax error in {BROKEN_SHARE:.0%} of the files (seed {BROKEN_SEED!r})",
    }
    lines = [
        "# zmqlint benchmark",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M %Z')} · {platform.machine()} · {cpus} CPUs · "
        f"{platform.python_implementation()} {platform.python_version()} · {platform.platform()} · load average at the end {load}",
        "",
        "Medians of whole-process runs; CPU is user+system of the whole process tree; peak memory is the largest single process.",
        "",
    ]
    for part, figures in results.items():
        lines += [
            f"## {part}: {figures['zmq_cold'].files} files ({described[part]})",
            "",
            "| figure | files | wall (s) | CPU (s) | peak MB |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for figure in figures.values():
            lines.append(f"| {figure.label} | {figure.files} | {figure.wall:.2f} | {figure.cpu:.2f} | {figure.peak_mb:.0f} |")
        lines.append("")
    lines += ["## Targets", "", "| target | measured | met |", "| --- | --- | --- |"]
    for part, figures in results.items():
        cold, bandit = figures["zmq_cold"], figures["bandit"]
        share = COLD_TARGETS[part]
        lines.append(_row(
            f"cold, {part}, vs bandit", f"{cold.wall / bandit.wall:.2f}x bandit's wall ({cold.cpu / bandit.cpu:.2f}x its CPU)",
            cold.wall <= share * bandit.wall, f"<= {share}x",
        ))
    for part, figures in results.items():
        fixit, piece = figures["fixit"], figures["zmq_slice"]
        lines.append(_row(
            f"vs fixit, {part} slice", f"{fixit.wall / piece.wall:.1f}x faster wall ({fixit.cpu / piece.cpu:.1f}x less CPU)",
            fixit.wall >= 10 * piece.wall, ">= 10x",
        ))
    for part, figures in results.items():
        if "zmq_warm" in figures:
            warm, edit = figures["zmq_warm"], figures["zmq_edit"]
            lines.append(_row(f"warm, nothing changed, {part} ({warm.files} files)", f"{warm.wall:.2f} s", warm.wall <= 0.5, "<= 0.5 s"))
            lines.append(_row(f"warm, one file edited, {part}", f"{edit.wall:.2f} s", edit.wall <= 1.0, "<= 1.0 s"))
    peak = max(f.peak_mb for figures in results.values() for k, f in figures.items() if k.startswith("zmq"))
    lines += [_row("peak memory (largest process)", f"{peak:.0f} MB", peak <= 400, "<= 400 MB"), ""]
    return "\n".join(lines)


def _row(name: str, measured: str, met: bool, target: str) -> str:
    return f"| {name} ({target}) | {measured} | {'yes' if met else '**no**'} |"


if __name__ == "__main__":
    sys.exit(main())
