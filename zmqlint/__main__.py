import os
import sys

# `python -m zmqlint` puts the current folder first on sys.path. Run inside the project being
# analysed, its `inspect.py` or `dataclasses.py` would then be imported (and executed) in place
# of the standard library's by zmqlint's own later imports. The analysed tree is never meant to
# be importable here, so that entry goes before anything else is imported.
if sys.path and sys.path[0] in ("", os.getcwd()):
    del sys.path[0]

from zmqlint.cli import main  # noqa: E402

if __name__ == "__main__":  # pragma: no cover
    main()
