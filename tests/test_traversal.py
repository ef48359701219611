"""The rules' read-only traversal against LibCST's own: the same visit and leave calls on the
same nodes in the same order, with metadata resolved the same way."""

from __future__ import annotations

import inspect
import sysconfig
from pathlib import Path

import libcst as cst
import pytest
from libcst.metadata import PositionProvider

from zmqlint.traversal import visit_read_only

from conftest import EVERY_SYNTAX


def _recorder_class():
    """A visitor with a visit_ and a leave_ method for every LibCST node type."""
    kinds = [k for _, k in inspect.getmembers(cst, inspect.isclass) if issubclass(k, cst.CSTNode) and not inspect.isabstract(k)]
    namespace = {"METADATA_DEPENDENCIES": (PositionProvider,)}

    def make(prefix, name):
        def method(self, node):
            self.events.append((prefix, name, id(node)))
            if prefix == "visit" and name == "Name":
                self.events.append(("position", self.get_metadata(PositionProvider, node).start))

        method.__name__ = f"{prefix}_{name}"
        return method

    for kind in kinds:
        namespace[f"visit_{kind.__name__}"] = make("visit", kind.__name__)
        namespace[f"leave_{kind.__name__}"] = make("leave", kind.__name__)

    def __init__(self):
        cst.BatchableCSTVisitor.__init__(self)
        self.events = []

    namespace["__init__"] = __init__
    return type("Recorder", (cst.BatchableCSTVisitor,), namespace)


def _sources():
    yield "every-kind", EVERY_SYNTAX
    root = Path(sysconfig.get_paths()["stdlib"])
    for name in ("argparse.py", "dataclasses.py", "string.py", "asyncio/base_events.py", "json/decoder.py"):
        yield name, (root / name).read_text(encoding="utf-8")
    fleet = Path(__file__).resolve().parents[1] / "fixtures" / "agent_fleet"
    for path in sorted(fleet.rglob("*.py"))[:12]:
        yield str(path.relative_to(fleet)), path.read_text(encoding="utf-8")


@pytest.mark.parametrize("name, source", list(_sources()), ids=lambda value: value if "\n" not in str(value) else "")
def test_the_same_calls_on_the_same_nodes_in_the_same_order(name, source):
    Recorder = _recorder_class()
    module = cst.parse_module(source)
    theirs, ours = Recorder(), Recorder()
    cst.MetadataWrapper(module, unsafe_skip_copy=True).visit_batched([theirs])
    visit_read_only(cst.MetadataWrapper(module, unsafe_skip_copy=True), [ours])
    assert len(theirs.events) > 10
    assert ours.events == theirs.events


def test_attribute_visitors_get_libcsts_own_traversal():
    class Bases(cst.BatchableCSTVisitor):
        def __init__(self):
            super().__init__()
            self.seen = []

        def visit_ClassDef_bases(self, node):
            self.seen.append(node.name.value)

    visitor = Bases()
    visit_read_only(cst.MetadataWrapper(cst.parse_module("class A(B): pass\n")), [visitor])
    assert visitor.seen == ["A"]
