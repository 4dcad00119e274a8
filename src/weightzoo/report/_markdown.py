"""Small builders for the Markdown the report emits."""

from __future__ import annotations

import re
from collections.abc import Sequence

# Characters the report's converter (and CommonMark) may read as markup.
_SPECIAL = re.compile(r"([\\`*\[\]<>|!])")


def escape(text: str) -> str:
    """Backslash-escape Markdown markup in free text such as a zoo name.

    Args:
        text: Arbitrary user text.

    Returns:
        Text that renders literally, on one line.
    """
    escaped = _SPECIAL.sub(r"\\\1", " ".join(str(text).split()))
    # A leading "#", "-" or "+" would start a heading or a list item.
    return "\\" + escaped if escaped[:1] in ("#", "-", "+") else escaped


def code(text: str) -> str:
    """Wrap ``text`` in a code span that survives backticks inside it.

    Args:
        text: Literal text.

    Returns:
        A Markdown code span.
    """
    text = " ".join(str(text).split())
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    padded = f" {text} " if text.startswith("`") or text.endswith("`") else text
    return f"{fence}{padded}{fence}"


def pipe_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    align: str | None = None,
) -> str:
    """Build a GitHub-style pipe table.

    Cells are taken as Markdown; only ``|`` and line breaks are escaped so a
    cell cannot split the row.

    Args:
        headers: Column titles.
        rows: Cell strings, one sequence per row, as long as ``headers``.
        align: One of ``"l"``, ``"r"``, ``"c"`` per column; left by default.

    Returns:
        The table, without a trailing newline.

    Raises:
        ValueError: If a row or ``align`` does not match the headers in length.
    """
    align = align or "l" * len(headers)
    if len(align) != len(headers):
        raise ValueError(f"align {align!r} has {len(align)} entries for {len(headers)} columns")
    markers = {"l": ":---", "r": "---:", "c": ":---:"}

    def line(cells: Sequence[str]) -> str:
        if len(cells) != len(headers):
            raise ValueError(
                f"table row {list(cells)} has {len(cells)} cells, expected {len(headers)}"
            )
        return "| " + " | ".join(_cell(c) for c in cells) + " |"

    out = [line(headers), "| " + " | ".join(markers[a] for a in align) + " |"]
    out.extend(line(row) for row in rows)
    return "\n".join(out)


def _cell(text: str) -> str:
    text = " ".join(str(text).split())
    return re.sub(r"(?<!\\)\|", r"\\|", text)


def image(alt: str, src: str) -> str:
    """A Markdown image on its own line (rendered as a captioned figure).

    Args:
        alt: Alternative text, also the caption.
        src: Relative path or URL, with ``/`` separators.

    Returns:
        The image line.
    """
    return f"![{escape(alt)}]({src.replace(' ', '%20')})"
