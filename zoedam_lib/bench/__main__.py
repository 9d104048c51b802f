"""``python -m zoedam_lib.bench CASE JSON_ARGS``: run one benchmark case and print its ``BENCH_JSON`` line.

:func:`zoedam_lib.bench.process.run_case` starts this in a fresh process per case; users run
``python -m zoedam_lib bench`` instead.
"""

import json
import sys

from zoedam_lib.bench.registry import CASES

if len(sys.argv) < 2 or sys.argv[1] not in CASES:
    sys.exit(f"usage: python -m zoedam_lib.bench CASE [JSON_ARGS]; CASE is one of {', '.join(sorted(CASES))}")
name, raw = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "{}"
print("BENCH_JSON " + json.dumps(CASES[name](json.loads(raw))), flush=True)
