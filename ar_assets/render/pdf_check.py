"""Missing-glyph check of the PDFs WeasyPrint writes.

A character no available font covers is drawn as glyph 0 (.notdef, the empty
box). Text extraction still reads the character back through the ToUnicode
map, so `pdftotext` cannot show it. WeasyPrint lists in each embedded font's
width array (/W) exactly the glyphs the pages draw, so a font whose /W covers
CID 0 draws the box somewhere.
"""

from __future__ import annotations

import re
import zlib

_STREAM = re.compile(rb"\d+\s+\d+\s+obj\s*<<(?P<dict>(?:(?!endobj).)*?)>>\s*stream\r?\n", re.S)
_LENGTH = re.compile(rb"/Length\s+(\d+)\b(?!\s+\d+\s+R)")
_CID_FONT = re.compile(rb"/Subtype\s*/CIDFontType[02]")
_BASE_FONT = re.compile(rb"/BaseFont\s*/([^\s/<>\[\]()]+)")
_WIDTHS = re.compile(rb"/W\s*\[")
_TOKEN = re.compile(rb"\[|\]|[-+]?\d*\.?\d+")


def _decompressed_streams(pdf: bytes):
    for match in _STREAM.finditer(pdf):
        header = match.group("dict")
        if b"/FlateDecode" not in header:
            continue
        length = _LENGTH.search(header)
        start = match.end()
        end = start + int(length.group(1)) if length else pdf.find(b"endstream", start)
        try:
            yield zlib.decompress(pdf[start:end])
        except zlib.error:
            continue


def _width_entries(text: bytes, start: int):
    """(first CID, last CID) of each entry of the /W array opening at `start`."""
    depth, pending, count = 0, [], 0
    for token in _TOKEN.finditer(text, start):
        value = token.group()
        if value == b"[":
            depth += 1
            count = 0
        elif value == b"]":
            depth -= 1
            if depth == 0:
                return
            if pending:
                yield pending[0], pending[0] + count - 1
                pending = []
        elif depth == 2:
            count += 1
        else:
            pending.append(int(float(value)))
            if len(pending) == 3:
                yield pending[0], pending[1]
                pending = []


def fonts_drawing_missing_glyphs(pdf: bytes) -> list[str]:
    """Names of the embedded fonts that draw .notdef boxes; empty when every glyph exists."""
    missing: list[str] = []
    for chunk in (pdf, *_decompressed_streams(pdf)):
        for widths in _WIDTHS.finditer(chunk):
            if not _CID_FONT.search(chunk, max(0, widths.start() - 400), widths.start()):
                continue
            if any(first <= 0 <= last for first, last in _width_entries(chunk, widths.end() - 1)):
                names = _BASE_FONT.findall(chunk, 0, widths.start())
                missing.append(names[-1].decode() if names else "unnamed font")
    return missing
