"""Markdown tables: the one writer behind every table the project prints or writes (results pages,
the benchmark, the data and seed summaries, ``docs/``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table_row(cells: Sequence[object]) -> str:
    """``| a | b |`` (an empty cell stays one space wide: ``| | b |``)."""
    return "|" + "|".join(f" {c} " if str(c) else " " for c in cells) + "|"


def markdown_table(header: Sequence[object], rows: Iterable[Sequence[object]], align: str | None = None) -> str:
    """A GitHub-flavoured markdown table, no trailing newline.

    ``align``: one letter per column, ``l`` (text) or ``r`` (numbers, ``---:``); default: the first
    column left, the others right.
    """
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header):
        raise ValueError(f"align has {len(align)} letters for {len(header)} columns")
    lines = [table_row(header), "|" + "".join("---:|" if a == "r" else "---|" for a in align)]
    lines += [table_row(r) for r in rows]
    return "\n".join(lines)
