"""How many files each rule's prefilter and gate let through, and what the gates cost.

    python bench/gates.py bench/.corpus/sample-80            # every rule
    python bench/gates.py bench/.corpus/sample-80 ZMQ101     # some rules

For each rule: files in the tree, files whose text passes the rule's `PREFILTER`, files its
`gate` admits (those are parsed with LibCST for it), files it reports on, and the seconds its
gate took in total. A gate that admits many more files than the rule reports on is where the
next speed-up is. Runs in this process, one file after another, one project index for all.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from zmqlint.config import Config
from zmqlint.engine import Engine, _hint_in
from zmqlint.gates import FileFacts
from zmqlint.rules import all_rules
from zmqlint.source import SourceError, SourceFile


def main(argv) -> int:
    root = Path(argv[0]).resolve()
    rules = all_rules()
    codes = argv[1:] or list(rules)
    config = Config.discover([root])
    engine = Engine(config)
    files = sorted(root.rglob("*.py"))
    rows = {code: [0, 0, 0, 0.0] for code in codes}
    for path in files:
        try:
            text = SourceFile.read(path).text
        except SourceError:
            continue
        facts = FileFacts(path=path, text=text, index=engine.index, config=config)
        if facts.tree is None:
            continue
        for code in codes:
            rule = rules[code]
            if rule.PREFILTER and not any(_hint_in(h, text) for h in rule.PREFILTER):
                continue
            rows[code][0] += 1
            start = time.perf_counter()
            admitted = rule.gate(facts)
            rows[code][3] += time.perf_counter() - start
            if admitted:
                rows[code][1] += 1
    reported = {code: set() for code in codes}
    result = Engine(config.with_overrides(select=codes), use_prefilter=False)
    for path in files:
        for finding in result.check_file(path, str(path)).findings:
            if finding.code in reported:
                reported[finding.code].add(path)
    print(f"{len(files)} files under {root}")
    print(f"{'rule':8} {'prefilter':>9} {'gate':>6} {'reports':>7} {'gate s':>7}")
    for code in codes:
        passed, admitted, _, seconds = rows[code]
        print(f"{code:8} {passed:9d} {admitted:6d} {len(reported[code]):7d} {seconds:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
