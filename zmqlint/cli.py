"""The command line: ``zmqlint [check] [PATHS...]``, ``zmqlint rules``, ``zmqlint rule CODE``.

Exit status: 0 when no findings are left, 1 when some are, 2 on a usage, configuration or
internal error (always with a one-line message, never a bare traceback).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import List, Optional, Sequence

import click

from zmqlint import __version__
from zmqlint.config import Config, ConfigError
from zmqlint.discovery import UsagePathError
from zmqlint.model import FixMode
from zmqlint.rules import ENGINE_CODES, all_rules, rule_for

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


class DefaultGroup(click.Group):
    """A group whose default command is ``check``: ``zmqlint --fix src`` means ``zmqlint check --fix src``."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: List[str]) -> List[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _split_codes(values: Sequence[str]) -> List[str]:
    return [code.strip() for value in values for code in value.split(",") if code.strip()]


def fail(message: str) -> "click.exceptions.Exit":
    click.echo(f"zmqlint: error: {message}", err=True)
    return click.exceptions.Exit(EXIT_ERROR)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="zmqlint")
def cli() -> None:
    """Find and fix the bugs that crash, hang or expose ZeroMQ, asyncio and thread services."""


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=str))
@click.option("--fix", is_flag=True, help="Apply safe fixes.")
@click.option("--unsafe-fixes", is_flag=True, help="With --fix or --diff: also apply unsafe fixes.")
@click.option("--diff", is_flag=True, help="Print the fixes as a unified diff; write nothing.")
@click.option("--select", multiple=True, help="Codes or prefixes to check (replaces the configured selection).")
@click.option("--extend-select", multiple=True, help="Codes or prefixes to check in addition.")
@click.option("--ignore", multiple=True, help="Codes or prefixes not to check.")
@click.option(
    "--format",
    "output_format",
    type=click.Choice(["text", "concise", "json", "sarif", "github", "gitlab", "junit", "plan"]),
    default="text",
    show_default=True,
    help="Output format.",
)
@click.option("--statistics", is_flag=True, help="Count the findings of each code instead of listing them (text or json).")
@click.option(
    "--stdin-filename",
    metavar="PATH",
    help="Check the text on standard input as the file PATH (its configuration, per-file ignores and imports); "
    "with --fix, print the fixed text. Other paths are ignored.",
)
@click.option("--config", "config_path", type=click.Path(path_type=Path, dir_okay=False), help="Configuration file.")
@click.option("--output-file", "-o", type=click.Path(path_type=Path, dir_okay=False), help="Write the report here.")
@click.option("--exit-zero", is_flag=True, help="Exit 0 even when findings are left.")
@click.option("--write-baseline", type=click.Path(path_type=Path, dir_okay=False), help="Record the current findings in FILE.")
@click.option("--baseline", "baseline_path", type=click.Path(path_type=Path, dir_okay=False), help="Report only findings not recorded in FILE.")
@click.option("--changed-since", metavar="REV", help="Lint only Python files changed since the git revision REV.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but the findings.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: the CPU count; 1: none).")
@click.option("--no-cache", is_flag=True, help="Check every file afresh; neither read nor write the result cache.")
@click.option("--no-prefilter", is_flag=True, hidden=True, envvar="ZMQLINT_NO_PREFILTER", help="Parse every file for every rule.")
def check(
    paths: Sequence[str],
    fix: bool,
    unsafe_fixes: bool,
    diff: bool,
    select: Sequence[str],
    extend_select: Sequence[str],
    ignore: Sequence[str],
    output_format: str,
    config_path: Optional[Path],
    output_file: Optional[Path],
    exit_zero: bool,
    write_baseline: Optional[Path],
    baseline_path: Optional[Path],
    changed_since: Optional[str],
    quiet: bool,
    jobs: Optional[int],
    no_cache: bool,
    no_prefilter: bool,
    statistics: bool,
    stdin_filename: Optional[str],
) -> None:
    """Lint PATHS (default: the current folder); with --fix, rewrite them.

    `-` as the only path (or --stdin-filename) checks standard input instead.
    """
    from zmqlint.reporters import REPORTERS
    from zmqlint.runner import run, run_stdin

    given = list(paths)
    paths = given or ["."]
    stdin = stdin_filename is not None or given == ["-"]
    if stdin:
        # As Ruff does: --stdin-filename always reads standard input, other paths are ignored.
        ignored = [p for p in given if p != "-"]
        if ignored:
            click.echo(f"zmqlint: warning: ignoring {', '.join(ignored)} in favour of standard input", err=True)
        if stdin_filename is not None and not stdin_filename.strip():
            raise fail("--stdin-filename needs a path")
        if stdin_filename is not None and Path(stdin_filename).is_dir():
            raise fail(f"--stdin-filename names a folder, not a file: {stdin_filename}")
        if changed_since:
            raise fail("--changed-since does not apply to standard input")
    elif "-" in paths:
        raise fail("'-' (standard input) cannot be combined with other paths; name the file it holds with --stdin-filename PATH")
    if statistics and output_format not in ("text", "json"):
        raise fail(f"--statistics prints text or json, not --format {output_format}")
    if statistics and diff:
        raise fail("--statistics and --diff cannot be combined")
    try:
        if stdin:
            config = Config.discover([Path(stdin_filename)] if stdin_filename else [], explicit=config_path)
        else:
            config = Config.discover([Path(p) for p in paths], explicit=config_path)
        config.with_overrides(
            select=_split_codes(select), extend_select=_split_codes(extend_select), ignore=_split_codes(ignore)
        )
    except ConfigError as exc:
        raise fail(str(exc))
    if diff:
        fix_mode = FixMode.UNSAFE if unsafe_fixes else FixMode.SAFE
    elif fix:
        fix_mode = FixMode.UNSAFE if unsafe_fixes else FixMode.SAFE
    else:
        fix_mode = FixMode.NONE
    try:
        if stdin:
            content = click.get_binary_stream("stdin").read()
            result = run_stdin(
                stdin_filename if stdin_filename is not None else "-",
                content,
                config,
                fix_mode=fix_mode,
                use_prefilter=not no_prefilter,
            )
            if fix and not diff:
                # As Ruff does: the fixed text goes to standard output, the report to standard error.
                _print_fixed_text(result, content)
        else:
            if changed_since:
                paths = _changed_paths(paths, config, changed_since)
            from zmqlint.progress import ProgressBar
            from zmqlint.runner import default_jobs

            with ProgressBar() as bar:
                result = run(
                    paths,
                    config,
                    fix_mode=fix_mode,
                    write=not diff,
                    jobs=jobs or default_jobs(),
                    use_cache=not no_cache,
                    use_prefilter=not no_prefilter,
                    progress=bar if ProgressBar.wanted(quiet) else None,
                )
        # The lines of a text read from standard input are not those of the file on disk.
        lines = {f.display_path: f.source_text.splitlines() for f in result.files if f.source_text is not None}
        if write_baseline:
            from zmqlint.baseline import write_baseline as record

            count = record(write_baseline, result.findings, lines=lines)
            click.echo(f"zmqlint: recorded {count} finding(s) in {write_baseline}", err=True)
            raise click.exceptions.Exit(EXIT_CLEAN)
        if baseline_path:
            _apply_baseline(result, baseline_path, lines)
    except UsagePathError as exc:
        raise fail(str(exc))
    except ConfigError as exc:
        raise fail(str(exc))
    except (click.exceptions.Exit, click.ClickException):
        raise
    except Exception as exc:  # pragma: no cover - reported, never a bare traceback
        raise fail(f"internal error: {type(exc).__name__}: {exc}")

    # With the fixed text of standard input on standard output, the report goes to standard error.
    default_stream = sys.stderr if stdin and fix and not diff else sys.stdout
    stream = open(output_file, "w", encoding="utf-8") if output_file else default_stream
    try:
        if diff:
            stream.write(result.diff())
        elif statistics:
            from zmqlint.reporters import statistics as stats

            (stats.render_json if output_format == "json" else stats.render)(result, stream)
        elif output_format == "plan":
            from zmqlint.reporters.plan import render_plan

            render_plan(result, stream, config)
        elif output_format == "sarif":
            from zmqlint.reporters.sarif import render as render_sarif

            render_sarif(result, stream, config)
        elif output_format == "text" and quiet:
            REPORTERS["concise"](result, stream)
        else:
            REPORTERS[output_format](result, stream)
    finally:
        if output_file:
            stream.close()
    if output_format != "text" or diff or statistics:
        for note in result.notes:
            click.echo(f"zmqlint: note: {note}", err=True)
    for error in result.errors:
        click.echo(f"zmqlint: error: {error}", err=True)
    if result.errors:
        raise click.exceptions.Exit(EXIT_ERROR)
    if diff:
        code = EXIT_FINDINGS if (result.findings or result.files_fixed) else EXIT_CLEAN
    else:
        code = EXIT_FINDINGS if result.findings else EXIT_CLEAN
    raise click.exceptions.Exit(EXIT_CLEAN if exit_zero else code)


def _changed_paths(paths: Sequence[str], config: Config, revision: str) -> List[str]:
    """The discovered Python files under ``paths`` that git says changed since ``revision``."""
    from zmqlint.discovery import discover
    from zmqlint.vcs import VcsError, changed_files

    try:
        changed = changed_files(revision, Path.cwd())
    except VcsError as exc:
        raise fail(str(exc))
    return [shown for path, shown in discover(paths, config).files if path in changed]


def _print_fixed_text(result, content: bytes) -> None:
    """The text read from standard input, fixed (byte for byte as read when nothing was fixed),
    in its own encoding, BOM and line endings, on standard output."""
    from zmqlint.source import SourceFile

    (checked,) = result.files
    data = content
    if checked.fixed_text is not None:
        try:
            data = SourceFile.from_bytes(checked.path, content).encode(checked.fixed_text)
        except (UnicodeError, LookupError) as exc:
            result.errors.append(f"{checked.display_path}: cannot encode the fixed text ({exc}); printed as read")
    out = click.get_binary_stream("stdout")
    out.write(data)
    out.flush()


def _apply_baseline(result, baseline_path: Path, lines=None) -> None:
    from zmqlint.baseline import BaselineError, new_findings, read_baseline

    try:
        recorded = read_baseline(baseline_path)
    except BaselineError as exc:
        raise fail(str(exc))
    kept = {id(f) for f in new_findings(result.findings, recorded, lines=lines)}
    for file_result in result.files:
        file_result.findings = [f for f in file_result.findings if id(f) in kept]
    result.extra_findings = [f for f in result.extra_findings if id(f) in kept]


@cli.command("rules")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]), default="text", show_default=True)
def rules_command(output_format: str) -> None:
    """List the rule catalog."""
    rules = all_rules()
    if output_format == "markdown":
        from zmqlint.docs import rules_markdown

        click.echo(rules_markdown(), nl=False)
        return
    if output_format == "json":
        import json

        click.echo(
            json.dumps(
                [
                    {
                        "code": code,
                        "name": rule.NAME,
                        "severity": rule.SEVERITY.value,
                        "fix": [a.value for a in rule.FIXES],
                        "summary": rule.summary(),
                    }
                    for code, rule in rules.items()
                ],
                indent=2,
            )
        )
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="zmqlint rules")
    for column in ("code", "name", "severity", "fix", "what it finds"):
        table.add_column(column)
    for code, rule in rules.items():
        table.add_row(code, rule.NAME, rule.SEVERITY.value, rule.fix_label(), rule.summary())
    for code, (name, severity, description) in ENGINE_CODES.items():
        table.add_row(code, name, severity, "none", description)
    Console(highlight=False).print(table)


@cli.command("rule")
@click.argument("code")
def rule_command(code: str) -> None:
    """Print one rule's documentation (by code or name)."""
    rule = rule_for(code)
    if rule is None:
        raise fail(f"unknown rule '{code}'")
    from rich.console import Console
    from rich.markdown import Markdown

    console = Console(highlight=False)
    header = f"# {rule.CODE} {rule.NAME}\n\nSeverity: {rule.SEVERITY.value}. Fix: {rule.fix_label()}.\n\n"
    if console.is_terminal:
        console.print(Markdown(header + rule.documentation()))
    else:
        click.echo(header + rule.documentation())


@cli.command("server")
def server_command() -> None:
    """Run the Language Server over stdin/stdout (editors start this)."""
    try:
        from zmqlint.server import main as serve
    except ImportError:
        raise fail("zmqlint server needs pygls: pip install 'zmqlint[lsp]'")
    serve()


def main() -> None:
    cli(prog_name="zmqlint")


if __name__ == "__main__":  # pragma: no cover
    main()
