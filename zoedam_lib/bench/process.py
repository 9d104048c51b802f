"""One benchmark case per process: its peak memory is its own, and a crash or hang is that case's error.

``python -m zoedam_lib.bench CASE JSON_ARGS`` runs case ``CASE`` of :mod:`.registry` and prints one
``BENCH_JSON`` line; :func:`run_case` starts it and reads the line back.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile


def run_case(name: str, args: dict | None = None, timeout: int = 1800) -> dict:
    """Run one case in a child process and return its JSON (or an ``error``).

    Each case gets an empty inductor cache (``TORCHINDUCTOR_CACHE_DIR``), so a ``torch.compile`` row's
    first call is the compilation a new process on a new machine pays, not a hit in an earlier run's
    on-disk cache.
    """
    with tempfile.TemporaryDirectory(prefix="zoedam-bench-inductor-") as cache:
        try:
            proc = subprocess.run(case_command(name, args), capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache})
        except subprocess.TimeoutExpired:
            return {"error": f"timed out after {timeout} s"}
    return case_result(proc.stdout, proc.stderr)


def case_command(name: str, args: dict | None = None) -> list[str]:
    """The command line that runs case ``name`` in a fresh process."""
    return [sys.executable, "-m", "zoedam_lib.bench", name, json.dumps(args or {})]


def case_result(stdout: str, stderr: str) -> dict:
    """A case process's JSON line, or an ``error`` with the end of its output."""
    for line in stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    return {"error": (stderr or stdout)[-500:]}
