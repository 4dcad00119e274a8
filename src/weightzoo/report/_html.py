"""Markdown to HTML for the subset the report emits.

Supported: ATX headings, paragraphs, GitHub pipe tables (with alignment),
one-level bullet lists, fenced code blocks, images on their own line (as
captioned figures), and inline code spans, images, links, ``**strong**``,
``*emphasis*`` and backslash escapes. Everything else is text, and all text
is HTML-escaped: a zoo name or a section body cannot inject markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable

ImageResolver = Callable[[str], str]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")
_FENCE = re.compile(r"^\s*(`{3,}|~{3,})")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_TABLE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$")
_ALT = r"(?:\\.|[^\]\\])*"
_IMAGE_LINE = re.compile(rf"^\s*!\[(?P<alt>{_ALT})\]\((?P<src>[^)\s]+)\)\s*$")
_INLINE = re.compile(
    r"\\(?P<esc>[!-/:-@\[-`{-~])"
    r"|(?P<ticks>`+)(?P<code>.+?)(?<!`)(?P=ticks)(?!`)"
    rf"|!\[(?P<alt>{_ALT})\]\((?P<src>[^)\s]+)\)"
    rf"|\[(?P<text>{_ALT})\]\((?P<href>[^)\s]+)\)"
    r"|\*\*(?P<strong>.+?)\*\*"
    r"|\*(?P<em>[^*\s](?:[^*]*[^*\s])?)\*"
)
_UNESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
_SAFE_LINK_SCHEMES = {"http", "https", "mailto"}


def _escape(text: str) -> str:
    return html.escape(text, quote=True)


def _safe_url(url: str, *, image: bool) -> bool:
    match = _SCHEME.match(url)
    if match is None:
        return True  # relative path or fragment
    scheme = match.group(1).lower()
    if image and scheme == "data":
        return url.lower().startswith("data:image/")
    return scheme in _SAFE_LINK_SCHEMES


def _img(alt: str, src: str, resolve_image: ImageResolver | None) -> str:
    alt_text = _UNESCAPE.sub(r"\1", alt)
    if resolve_image is not None:
        src = resolve_image(src)
    if not _safe_url(src, image=True):
        return _escape(alt_text)
    return f'<img src="{_escape(src)}" alt="{_escape(alt_text)}">'


def render_inline(text: str, resolve_image: ImageResolver | None = None) -> str:
    """Convert inline Markdown to HTML, escaping all literal text.

    Args:
        text: One block's text.
        resolve_image: Maps an image source as written to the ``src`` to emit
            (for example a ``data:`` URI); identity if ``None``.

    Returns:
        HTML fragment.
    """
    out: list[str] = []
    position = 0
    for match in _INLINE.finditer(text):
        out.append(_escape(text[position : match.start()]))
        position = match.end()
        group = match.lastgroup
        if match.group("esc") is not None:
            out.append(_escape(match.group("esc")))
        elif match.group("code") is not None:
            content = match.group("code")
            if len(content) > 1 and content[0] == content[-1] == " " and content.strip():
                content = content[1:-1]  # CommonMark: one padding space lets code touch backticks
            out.append(f"<code>{_escape(content)}</code>")
        elif match.group("src") is not None:
            out.append(_img(match.group("alt"), match.group("src"), resolve_image))
        elif match.group("href") is not None:
            label = render_inline(match.group("text"), resolve_image)
            href = match.group("href")
            out.append(
                f'<a href="{_escape(href)}">{label}</a>' if _safe_url(href, image=False) else label
            )
        elif group == "strong":
            out.append(f"<strong>{render_inline(match.group('strong'), resolve_image)}</strong>")
        else:
            out.append(f"<em>{render_inline(match.group('em'), resolve_image)}</em>")
    out.append(_escape(text[position:]))
    return "".join(out)


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", line)]


def _alignment(cell: str) -> str | None:
    left, right = cell.startswith(":"), cell.endswith(":")
    if left and right:
        return "center"
    return "right" if right else ("left" if left else None)


def _table(lines: list[str], resolve_image: ImageResolver | None) -> str:
    headers = _split_row(lines[0])
    aligns = [_alignment(c) for c in _split_row(lines[1])]
    aligns = (aligns + [None] * len(headers))[: len(headers)]

    def row(cells: list[str], tag: str) -> str:
        cells = (cells + [""] * len(headers))[: len(headers)]
        parts = []
        for cell, align in zip(cells, aligns, strict=True):
            style = f' style="text-align: {align}"' if align else ""
            parts.append(f"<{tag}{style}>{render_inline(cell, resolve_image)}</{tag}>")
        return "<tr>" + "".join(parts) + "</tr>"

    body = "\n".join(row(_split_row(line), "td") for line in lines[2:])
    return f"<table>\n<thead>\n{row(headers, 'th')}\n</thead>\n<tbody>\n{body}\n</tbody>\n</table>"


def _starts_block(lines: list[str], i: int) -> bool:
    line = lines[i]
    return bool(
        _HEADING.match(line)
        or _FENCE.match(line)
        or _BULLET.match(line)
        or _IMAGE_LINE.match(line)
        or _is_table_start(lines, i)
    )


def _is_table_start(lines: list[str], i: int) -> bool:
    return (
        lines[i].lstrip().startswith("|")
        and i + 1 < len(lines)
        and bool(_TABLE_SEPARATOR.match(lines[i + 1]))
    )


def markdown_to_html(text: str, resolve_image: ImageResolver | None = None) -> str:
    """Convert the report's Markdown subset to an HTML fragment.

    Args:
        text: Markdown source.
        resolve_image: Maps each image source to the ``src`` attribute to
            emit; identity if ``None``.

    Returns:
        HTML fragment, one block element per line group.
    """
    lines = text.splitlines()
    blocks: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif fence := _FENCE.match(line):
            marker = fence.group(1)
            end = i + 1
            while end < len(lines) and not lines[end].strip().startswith(marker):
                end += 1
            blocks.append(f"<pre><code>{_escape(chr(10).join(lines[i + 1 : end]))}</code></pre>")
            i = end + 1
        elif heading := _HEADING.match(line):
            level = len(heading.group(1))
            blocks.append(f"<h{level}>{render_inline(heading.group(2), resolve_image)}</h{level}>")
            i += 1
        elif _is_table_start(lines, i):
            end = i + 2
            while end < len(lines) and lines[end].lstrip().startswith("|"):
                end += 1
            blocks.append(_table(lines[i:end], resolve_image))
            i = end
        elif image := _IMAGE_LINE.match(line):
            alt = _UNESCAPE.sub(r"\1", image.group("alt"))
            img = _img(image.group("alt"), image.group("src"), resolve_image)
            blocks.append(f"<figure>{img}<figcaption>{_escape(alt)}</figcaption></figure>")
            i += 1
        elif _BULLET.match(line):
            items: list[str] = []
            while i < len(lines) and lines[i].strip():
                bullet = _BULLET.match(lines[i])
                if bullet:
                    items.append(bullet.group(1))
                elif lines[i][:1].isspace() and items:
                    items[-1] += " " + lines[i].strip()  # indented continuation
                else:
                    break
                i += 1
            lis = "\n".join(f"<li>{render_inline(item, resolve_image)}</li>" for item in items)
            blocks.append(f"<ul>\n{lis}\n</ul>")
        else:
            paragraph = [line.strip()]
            i += 1
            while i < len(lines) and lines[i].strip() and not _starts_block(lines, i):
                paragraph.append(lines[i].strip())
                i += 1
            blocks.append(f"<p>{render_inline(chr(10).join(paragraph), resolve_image)}</p>")
    return "\n".join(blocks) + "\n"


_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem;
       margin: 2rem auto; padding: 0 1rem; color: #1f2328; line-height: 1.5; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: 0.25rem 0.6rem; }
thead { background: #f6f8fa; }
code { background: #f6f8fa; padding: 0.1rem 0.3rem; border-radius: 4px; }
pre { background: #f6f8fa; padding: 0.8rem; overflow-x: auto; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; }
figcaption { color: #59636e; font-size: 0.9rem; }
""".strip()


def html_document(title: str, body: str) -> str:
    """Wrap an HTML fragment in a standalone page with inline CSS.

    Args:
        title: Plain-text page title; escaped here.
        body: HTML fragment from :func:`markdown_to_html`.

    Returns:
        The complete HTML document.
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_escape(title)}</title>\n<style>\n{_STYLE}\n</style>\n</head>\n"
        f"<body>\n{body}</body>\n</html>\n"
    )
