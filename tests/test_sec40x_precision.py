"""SEC402 / SEC403 stay silent on real code that handles keys, tokens and CORS correctly.

The standard library's HTTP servers, authenticating clients and tokenizers use `token`,
`password` and `Access-Control-*` words everywhere; FastAPI's and Starlette's own security and
CORS modules implement exactly the options the rules look at. None of it is a finding.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

import pytest

from conftest import findings_of, lint_tree

pytestmark = pytest.mark.timeout(300)

STDLIB = Path(sysconfig.get_paths()["stdlib"])
STDLIB_MODULES = [
    "http/server.py", "http/client.py", "urllib/request.py", "xmlrpc/server.py", "wsgiref/simple_server.py",
    "imaplib.py", "smtplib.py", "netrc.py", "getpass.py", "hmac.py", "secrets.py", "tokenize.py",
]


def _package_files(package: str, modules):
    root = Path(pytest.importorskip(package).__file__).parent
    return root, [str(root / m) for m in modules if (root / m).exists()]


def test_silent_on_the_stdlib():
    paths = [str(STDLIB / m) for m in STDLIB_MODULES if (STDLIB / m).exists()]
    assert len(paths) >= 10
    result = lint_tree(STDLIB, select=["SEC402", "SEC403"], paths=paths)
    assert not result.errors
    assert [f.to_json() for f in findings_of(result)] == []


@pytest.mark.parametrize(
    "package,modules",
    [
        ("fastapi", ["security/api_key.py", "security/http.py", "security/oauth2.py", "middleware/cors.py", "applications.py"]),
        ("starlette", ["middleware/cors.py", "middleware/authentication.py", "authentication.py", "responses.py"]),
    ],
)
def test_silent_on_the_web_frameworks(package, modules):
    root, paths = _package_files(package, modules)
    assert paths
    result = lint_tree(root, select=["SEC402", "SEC403"], paths=paths)
    assert not result.errors
    assert [f.to_json() for f in findings_of(result)] == []
