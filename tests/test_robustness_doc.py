"""``docs/robustness.md`` stays true: every test it names exists, and every robustness test is named."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAMILY_DIR = ROOT / "tests" / "robustness"


def test_every_test_in_the_table_exists_and_every_robustness_test_is_in_it():
    table = (ROOT / "docs" / "robustness.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+\.py)::(test_\w+)`", table))
    defined = {(path.name, node.name) for path in FAMILY_DIR.glob("test_*.py")
               for node in ast.parse(path.read_text(encoding="utf-8")).body
               if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}
    assert sorted(named - defined) == [], "named in docs/robustness.md but not defined"
    assert sorted(defined - named) == [], "defined in tests/robustness but missing from docs/robustness.md"
