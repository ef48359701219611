"""Thread fixes on unusual layouts: tabs, one-line suites, comments, docstrings.

Every fix must produce code that compiles (no fix is dropped by the engine's compile check),
keep the comments around it, and leave nothing to fix on a second run.
"""

from __future__ import annotations

import pytest

from zmqlint.engine import FixMode, compiles

from conftest import findings_of, lint_tree

THR = ["THR501", "THR502", "THR503", "THR504"]

LAYOUTS = {
    "tabs_and_comments": (
        "import threading, time\n"
        "class W:\n"
        "\tdef __init__(self):\n"
        "\t\tself._stop = threading.Event()\n"
        "\t\tself._t = threading.Thread(target=self._run)\n"
        "\t\tself._t.start()\n"
        "\tdef _run(self):\n"
        "\t\twhile True:  # forever\n"
        "\t\t\ttime.sleep(0.1)   # nap\n"
        "\tdef close(self):\n"
        "\t\t# tell the worker\n"
        "\t\tself._stop.set()  # now\n",
        ["# forever", "# nap", "# tell the worker", "# now", "self._t.join(timeout=5.0)"],
    ),
    "one_line_check_then_act": (
        "import threading\n"
        "class Q:\n"
        "    def __init__(self):\n"
        "        self.buf = []\n"
        "        threading.Thread(target=self.work).start()\n"
        "    def work(self):\n"
        "        if self.buf: x = self.buf.pop(0); print(x)\n"
        "        else: print('empty')\n"
        "    def add(self, v):\n"
        "        self.buf.append(v)\n",
        ["x = self.buf.get_nowait()", "except queue.Empty:", "self.buf.put(v)"],
    ),
    "one_line_signal_is_reported_not_rewritten": (
        "import threading\n"
        "class S:\n"
        "    def __init__(self):\n"
        "        self._stop = threading.Event()\n"
        "        self._t = threading.Thread(target=self._run)\n"
        "        self._t.start()\n"
        "    def _run(self):\n"
        "        self._stop.wait()\n"
        "    def stop(self):\n"
        "        if self._t: self._stop.set()\n",
        ["if self._t: self._stop.set()\n"],
    ),
    "docstring_stop_and_init": (
        "import threading, time\n"
        "class T:\n"
        '    """A ticker."""\n'
        "    def __init__(self):\n"
        '        """Make it."""\n'
        "        self.n = 0\n"
        "        self.t = threading.Thread(target=self.loop, daemon=True)\n"
        "        self.t.start()\n"
        "    def loop(self):\n"
        "        while 1:\n"
        "            self.n += 1\n"
        "            time.sleep(0.01)\n"
        "    def shutdown(self):\n"
        '        """Stop ticking."""\n',
        ['"""Make it."""\n        self._stop_event = threading.Event()', '"""Stop ticking."""\n        self._stop_event.set()'],
    ),
}


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_fixes_on_unusual_layouts(tmp_path, name):
    source, expected_fragments = LAYOUTS[name]
    path = tmp_path / "mod.py"
    path.write_text(source)
    before = findings_of(lint_tree(tmp_path, select=THR))
    assert before, "the layout must hold a finding"
    result = lint_tree(tmp_path, select=THR, fix=FixMode.UNSAFE)
    assert not result.errors
    assert not [note for note in result.notes + [n for f in result.files for n in f.notes] if "dropped" in note]
    fixed = path.read_text()
    assert compiles(fixed)
    for fragment in expected_fragments:
        assert fragment in fixed, (fragment, fixed)
    again = lint_tree(tmp_path, select=THR, fix=FixMode.UNSAFE)
    assert again.fixes_applied == 0
    assert path.read_text() == fixed
