"""The frame every HTML page of the analysis package shares: the style sheet, escaping, a figure
embedded as a data: URI, a table, the page itself, and writing a page with its PNG files
(every path checked before anything is written, each file written to a temporary name and
renamed). report.py (a trace), sweepplot.py (a sweep) and mapplot.py (a map, a sensitivity
analysis) build their pages with it.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import os
import re
import sys
from typing import Iterable, List, Optional, Sequence, Tuple

from .outputs import OutputError, check_output_files, write_atomic

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; margin: 1.5em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em;
       border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.sub { color: #555; margin-top: 0; }
table { border-collapse: collapse; font-size: 0.86em; margin: 0.6em 0; }
th, td { padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
table.params th { color: #555; font-weight: normal; white-space: nowrap; }
table.cmp { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 0.8em; }
table.cmp th { border-bottom: 1px solid #999; white-space: nowrap; }
table.cmp td { white-space: nowrap; }
table.cmp tr.value td { border-top: 1px solid #e4e4e4; }
table.cmp tr.diff td { color: #444; }
.better { color: #1a7f37; font-weight: bold; } .worse { color: #c62828; font-weight: bold; }
.ns { color: #888; } .differs { color: #b35900; font-weight: bold; }
.scroll { overflow-x: auto; }
figure { margin: 1.2em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.86em; color: #444; margin-top: 0.3em; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.8em; }
.note { font-size: 0.86em; color: #555; }
details summary { cursor: pointer; color: #1f4f99; }
"""


def esc(s) -> str:
    return html.escape(str(s), quote=True)


def text(x) -> str:
    """An HDF5 string (bytes or str) as str."""
    return x.decode() if isinstance(x, bytes) else str(x)


def safe(name: str) -> str:
    """A name usable in a file name."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def png(fig, dpi: int = 100) -> bytes:
    """A matplotlib figure as PNG bytes (no timestamp, no software tag: deterministic)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def figure_html(key: str, title: str, caption: str, data: bytes) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<figure id="fig-{esc(key)}"><img alt="{esc(title)}" src="data:image/png;base64,{b64}">'
            f"<figcaption><b>{esc(title)}.</b> {esc(caption)}</figcaption></figure>")


def table_html(header: Sequence[str], rows: Iterable[Sequence[object]], cls: str = "params") -> str:
    h = [f'<div class="scroll"><table class="{esc(cls)}"><tr>' + "".join(f"<th>{esc(c)}</th>" for c in header) + "</tr>"]
    for r in rows:
        h.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>")
    h.append("</table></div>")
    return "\n".join(h)


def page_html(title: str, subtitle: Optional[str], body: Sequence[str], footer: Optional[str] = None) -> str:
    """A complete self-contained page (inline style, no script, no external resource)."""
    h = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
         '<meta name="viewport" content="width=device-width, initial-scale=1">',
         f"<title>{esc(title)}</title>", f"<style>{CSS}</style></head><body>", f"<h1>{esc(title)}</h1>"]
    if subtitle:
        h.append(f'<p class="sub">{esc(subtitle)}</p>')
    h += list(body)
    if footer:
        h.append(f'<p class="note">{esc(footer)}</p>')
    h.append("</body></html>")
    return "\n".join(h) + "\n"


# A figure of a page: (file stem, title, caption, PNG bytes)
Figure = Tuple[str, str, str, bytes]


def write_files(rendered: Sequence[Tuple[str, bytes]], inputs: Sequence[str]) -> List[str]:
    """Write (path, bytes) pairs: every path checked first (only regular files that are not an
    input are replaced), then each written atomically. Returns the paths."""
    check_output_files([p for p, _ in rendered], inputs)
    for path, data in rendered:
        write_atomic(path, data, inputs)
    return [p for p, _ in rendered]


def write_page(out_dir: str, figures: Sequence[Figure], page: str, inputs: Sequence[str],
               index: str = "report.html") -> Tuple[str, List[str]]:
    """out_dir/<stem>.png for each figure and out_dir/index; returns (index path, PNG paths)."""
    os.makedirs(out_dir, exist_ok=True)
    pngs = [(os.path.join(out_dir, stem + ".png"), data) for stem, _, _, data in figures]
    idx = os.path.join(out_dir, index)
    write_files(pngs + [(idx, page.encode("utf-8"))], inputs)
    return idx, [p for p, _ in pngs]


def report_cli(argv, write, errors) -> int:
    """`ragsim report FILE -o DIR` for an output whose page `write(h5, out_dir)` writes and
    returns as (report.html path, PNG paths): exit 2 on the output's own `errors` (bad input)
    and OutputError, 1 when the files cannot be written; prints the page's path."""
    p = argparse.ArgumentParser(prog="ragsim report")
    p.add_argument("h5")
    p.add_argument("-o", "--out-dir", default=".")
    args = p.parse_args(argv)
    try:
        index, pngs = write(args.h5, args.out_dir)
    except (errors, OutputError) as e:
        print(f"ragsim report: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ragsim report: error: cannot write the report: {e}", file=sys.stderr)
        return 1
    print(f"report: {index} ({len(pngs)} figures)")
    return 0
