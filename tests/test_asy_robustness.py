"""The ASY rules on odd but valid code: no crash, no finding where nothing is provably sync."""

from __future__ import annotations

import pytest
from conftest import findings_of, lint_tree

ASY = ["ASY301", "ASY302", "ASY303"]

ODD = {
    "recursion": """
        import asyncio

        def again(n):
            return again(n - 1)

        async def main():
            await again(3)
        """,
    "mutual attribute aliasing": """
        import asyncio

        class A:
            def __init__(self):
                self.a = self.b
                self.b = self.a

            async def run(self):
                await self.a.stop()
                asyncio.create_task(self.b.start())
        """,
    "self-referencing list": """
        import asyncio

        async def main():
            calls = calls
            calls.append(calls)
            await asyncio.gather(*calls)
            await asyncio.wait(calls)
        """,
    "super without a base": """
        class A:
            async def stop(self):
                await super().stop()
        """,
    "walrus, match, lambdas, star-args": """
        import asyncio

        async def main(cmd, *args, **kwargs):
            if (server := kwargs.get("server")) is not None:
                await server.stop(*args)
            match cmd:
                case {"op": "stop"}:
                    await asyncio.gather(*(f() for f in args))
                case _:
                    asyncio.ensure_future((lambda: None)())
        """,
    "nested classes and decorated methods": """
        import asyncio
        import functools

        class Outer:
            class Inner:
                @functools.lru_cache(maxsize=None)
                def start(self):
                    return None

            def __init__(self):
                self.inner = Outer.Inner()

            async def run(self):
                asyncio.create_task(self.inner.start())
        """,
    "calls of calls and subscripts": """
        import asyncio

        async def main(registry):
            await registry["a"].stop()
            await registry.get("b")().stop()
            asyncio.create_task(make()(1).start())
            await asyncio.gather(*[s.stop() for s in registry.values()])
        """,
}

CIRCULAR = {
    "a.py": """
        from b import B

        class A(B):
            pass
        """,
    "b.py": """
        from a import A

        class B(A):
            pass
        """,
    "main.py": """
        import asyncio
        from a import A

        async def main():
            await A().stop()
            asyncio.create_task(A().start())
        """,
}


@pytest.mark.parametrize("name", sorted(ODD))
def test_odd_code_is_handled_quietly(tree, name):
    root = tree({"odd.py": ODD[name]})
    result = lint_tree(root, select=ASY + ["E999"])
    assert not result.errors, result.errors
    assert findings_of(result) == []


def test_circular_inheritance_across_modules(tree):
    result = lint_tree(tree(CIRCULAR), select=ASY)
    assert not result.errors, result.errors
    assert findings_of(result) == []
