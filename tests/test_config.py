"""Configuration from [tool.zmqlint]: defaults, overrides, and exit 2 naming a bad key."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from zmqlint.config import Config, ConfigError

from conftest import write_tree

BUG = {"pkg/a.py": "x = eval(data)\n", "tests/t.py": "y = eval(data)\n", "gen/g.py": "z = eval(data)\n"}


def zmqlint(cwd, *args):
    return subprocess.run(
        [sys.executable, "-m", "zmqlint", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def pyproject(tmp_path, body):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n\n[tool.zmqlint]\n" + body)


@pytest.mark.parametrize(
    "body,named",
    [
        ("selekt = ['SEC']\n", "selekt"),
        ("select = 'SEC'\n", "select"),
        ("select = ['NOPE']\n", "NOPE"),
        ("ignore = [1]\n", "ignore"),
        ("per-file-ignores = { 'a.py' = 'SEC' }\n", "per-file-ignores"),
        ("exclude = true\n", "exclude"),
    ],
)
def test_bad_configuration_exits_2_naming_the_key(tmp_path, body, named):
    write_tree(tmp_path, BUG)
    pyproject(tmp_path, body)
    proc = zmqlint(tmp_path, ".")
    assert proc.returncode == 2, proc.stdout
    assert named in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unparsable_pyproject_exits_2(tmp_path):
    write_tree(tmp_path, BUG)
    (tmp_path / "pyproject.toml").write_text("[tool.zmqlint\nselect = [")
    proc = zmqlint(tmp_path, ".")
    assert proc.returncode == 2
    assert "pyproject.toml" in proc.stderr


def test_select_per_file_ignores_and_exclude_apply(tmp_path):
    write_tree(tmp_path, BUG)
    pyproject(tmp_path, "select = ['SEC']\nper-file-ignores = { 'tests/*' = ['SEC401'] }\nexclude = ['gen/']\n")
    proc = zmqlint(tmp_path, "--format", "json", ".")
    assert [f["path"] for f in json.loads(proc.stdout)] == ["pkg/a.py"]
    assert proc.returncode == 1


def test_config_is_found_from_a_subfolder(tmp_path):
    write_tree(tmp_path, BUG)
    pyproject(tmp_path, "ignore = ['SEC']\n")
    proc = zmqlint(tmp_path / "pkg", ".")
    assert proc.returncode == 0, proc.stdout


def test_longer_selector_wins():
    config = Config.from_table({"select": ["SEC"], "ignore": ["SEC4"], "extend-select": ["SEC401"]}, root=".")
    assert config.enabled_codes(["SEC401", "SEC402", "EXC601"]) == ["SEC401"]


def test_unknown_rule_option_is_rejected():
    with pytest.raises(ConfigError, match="thread-jion-timeout"):
        Config.from_table({"thread-jion-timeout": 5}, root=".")


def test_no_configuration_is_needed(tmp_path):
    config = Config.discover([tmp_path])
    assert config.select is None and config.ignore == []
