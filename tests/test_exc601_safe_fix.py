"""EXC601: `zmqlint --fix` (safe fixes only) turns every bare `except:` into `except Exception`,
whatever the handler's body does, and the fixed code lets KeyboardInterrupt / SystemExit through.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from click.testing import CliRunner

from zmqlint.cli import cli

# One bare `except:` per body shape real code writes after it.
AGENT = textwrap.dedent(
    '''
    import logging
    import sys

    logger = logging.getLogger(__name__)


    def parse_port(text):
        try:
            return int(text)
        except:
            return False


    def stop_requested(check):
        try:
            check()
        except:
            logger.debug("stop check failed")
            return True
        return False


    def drain(jobs):
        done = 0
        for job in jobs:
            try:
                job()
            except:
                continue
            done += 1
        return done


    def detect():
        try:
            import not_a_real_module_zmqlint  # noqa: F401
        except:
            pass
        return "cpu"


    def cleanup(step):
        try:
            step()
        except:
            print("cleanup failed")
            raise


    def one_liner(step):
        try: step()
        except: return None
    '''
).lstrip()


def _bare_handlers(source: str):
    return [
        node.lineno
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ExceptHandler) and node.type is None
    ]


def _fix(root: Path, *extra: str):
    runner = CliRunner()
    return runner.invoke(cli, ["--fix", "--select", "EXC601", "--no-cache", *extra, str(root)], catch_exceptions=False)


def test_safe_fix_leaves_no_bare_except_compiles_and_is_idempotent(tmp_path):
    target = tmp_path / "agent.py"
    target.write_text(AGENT)
    assert len(_bare_handlers(AGENT)) == 6

    first = _fix(tmp_path)
    fixed = target.read_text()
    assert _bare_handlers(fixed) == [], fixed
    compile(fixed, str(target), "exec")
    # Nothing is left for EXC601 to report, so the run exits clean.
    assert first.exit_code == 0, first.output
    # The bodies that already did something are kept as written.
    assert "    except Exception:\n        return False\n" in fixed
    assert '    except Exception:\n        logger.debug("stop check failed")\n        return True\n' in fixed
    assert '    except Exception:\n        print("cleanup failed")\n        raise\n' in fixed
    assert "    except Exception: return None\n" in fixed
    # The silent ones log with the traceback.
    assert fixed.count("exc_info=True") == 2

    _fix(tmp_path)
    assert target.read_text() == fixed


def _run(module: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(module.parent)!r}); import agent\n{code}"],
        capture_output=True,
        text=True,
        timeout=30,
    )


EXITS = "print('returned', agent.parse_port(type('T', (), {'__int__': lambda self: sys.exit(3)})()))"


def test_fixed_handlers_let_system_exit_through_and_keep_their_behaviour(tmp_path):
    target = tmp_path / "agent.py"
    target.write_text(AGENT)

    # As written: the bare except traps the SystemExit raised inside the try and returns False.
    before = _run(target, EXITS)
    assert before.returncode == 0 and "returned False" in before.stdout, before

    _fix(tmp_path)

    after = _run(target, EXITS)
    assert after.returncode == 3, after
    # Ordinary errors are still handled the way the handler's body says.
    same = _run(
        target,
        "print(agent.parse_port('x'), agent.stop_requested(lambda: 1 / 0), agent.drain([lambda: 1 / 0, lambda: 1]),"
        " agent.detect(), agent.one_liner(lambda: {}['k']))",
    )
    assert same.returncode == 0 and same.stdout.split() == ["False", "True", "1", "cpu", "None"], same


def test_unsafe_fix_narrows_only_where_the_try_body_is_known(tmp_path):
    target = tmp_path / "agent.py"
    target.write_text(AGENT)
    _fix(tmp_path, "--unsafe-fixes")
    fixed = target.read_text()
    assert _bare_handlers(fixed) == []
    compile(fixed, str(target), "exec")
    assert "    except (ValueError, TypeError):\n        return False\n" in fixed
    assert "    except ImportError as exc:\n" in fixed
    # step() is unknown: the safe rewrite stays.
    assert '    except Exception:\n        print("cleanup failed")\n' in fixed
