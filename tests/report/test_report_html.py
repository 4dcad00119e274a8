from __future__ import annotations

from weightzoo.report import _markdown as md
from weightzoo.report._html import html_document, markdown_to_html, render_inline


def test_blocks() -> None:
    source = "\n".join(
        [
            "# Title",
            "",
            "First line",
            "second line with `a<b` code.",
            "",
            "- one",
            "- **two**",
            "",
            "| name | value |",
            "| :--- | ---: |",
            "| a \\| b | 1.5 |",
            "",
            "![A figure](figures/x.png)",
        ]
    )
    out = markdown_to_html(source, resolve_image=lambda src: "data:image/png;base64,AAAA")
    assert "<h1>Title</h1>" in out
    assert "<p>First line\nsecond line with <code>a&lt;b</code> code.</p>" in out
    assert "<ul>\n<li>one</li>\n<li><strong>two</strong></li>\n</ul>" in out
    assert '<th style="text-align: left">name</th>' in out
    assert '<td style="text-align: left">a | b</td><td style="text-align: right">1.5</td>' in out
    assert '<figure><img src="data:image/png;base64,AAAA" alt="A figure">' in out
    assert "<figcaption>A figure</figcaption>" in out


def test_text_is_escaped_and_urls_are_checked() -> None:
    out = render_inline('<script>alert("x")</script> & [link](javascript:void)')
    assert "<script>" not in out
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; link" == out
    assert render_inline("[doc](https://example.org/a?b=1&c=2)") == (
        '<a href="https://example.org/a?b=1&amp;c=2">doc</a>'
    )


def test_markdown_escape_round_trips() -> None:
    name = 'tiny <b>zoo</b> | *x* [y] `z` # & "q"'
    assert render_inline(md.escape(name)) == (
        "tiny &lt;b&gt;zoo&lt;/b&gt; | *x* [y] `z` # &amp; &quot;q&quot;"
    )
    assert render_inline(md.code("a `b` c")) == "<code>a `b` c</code>"
    assert markdown_to_html(md.escape("# not a heading")) == "<p># not a heading</p>\n"


def test_pipe_table_escapes_cells() -> None:
    table = md.pipe_table(["a", "b"], [["x|y", "1"]], align="lr")
    assert table.splitlines() == ["| a | b |", "| :--- | ---: |", "| x\\|y | 1 |"]
    assert '<td style="text-align: left">x|y</td>' in markdown_to_html(table)


def test_code_fence_and_document() -> None:
    out = markdown_to_html("```\n<raw> & | x |\n```\nafter")
    assert out == "<pre><code>&lt;raw&gt; &amp; | x |</code></pre>\n<p>after</p>\n"
    page = html_document("a <title>", "<p>x</p>\n")
    assert page.startswith("<!DOCTYPE html>")
    assert "<title>a &lt;title&gt;</title>" in page
