"""HTML to PDF with WeasyPrint: one document, a cache on disk, a small process pool."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from multiprocessing import get_context
from pathlib import Path

import weasyprint
from weasyprint.text.fonts import FontConfiguration

# Starting the pool (a fresh interpreter importing WeasyPrint, then each
# worker's first layout) took about 3 s, some 25 invoices' worth at 0.12 s
# each, so a worker is only started for at least this many documents.
MIN_DOCS_PER_WORKER = 25
MAX_WORKERS = 4


@lru_cache(maxsize=1)
def _font_config() -> FontConfiguration:
    return FontConfiguration()


def local_only_fetcher(url: str, *args, **kwargs) -> dict:
    """Resources from local files only: rendering never reaches the network."""
    if not url.startswith("file:"):
        raise ValueError(f"refusing to fetch {url.split(':', 1)[0]} resource while rendering")
    return weasyprint.default_url_fetcher(url, *args, **kwargs)


def html_to_pdf(html: str, base_url: str | None = None) -> bytes:
    """One PDF; fonts embedded as subsets of the glyphs used."""
    document = weasyprint.HTML(string=html, base_url=base_url, url_fetcher=local_only_fetcher)
    return document.write_pdf(font_config=_font_config())


def html_to_pdfs(
    documents: Sequence[str], base_url: str | None = None, workers: int | None = None
) -> list[bytes]:
    """Many PDFs in order, in a process pool when there are enough of them."""
    workers = pool_size(len(documents), workers)
    if workers <= 1:
        return [html_to_pdf(html, base_url) for html in documents]

    # forkserver: the Dagster step process has threads, which fork may not copy
    # safely; spawn would re-import WeasyPrint for every worker, forkserver once.
    context = get_context("forkserver")
    context.set_forkserver_preload([__name__])
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        chunk = max(1, len(documents) // (workers * 4))
        return list(pool.map(html_to_pdf, documents, [base_url] * len(documents), chunksize=chunk))


def pool_size(count: int, workers: int | None = None) -> int:
    """Workers for `count` documents: as asked, else AR_PDF_WORKERS, else one CPU
    fewer than the machine has, each with at least MIN_DOCS_PER_WORKER documents.

    One CPU stays with the calling process and the rest of the run: on a
    2-CPU host two workers rendered 80 invoices slower than one process did.
    """
    if workers is not None:
        return max(1, min(workers, count))
    configured = os.environ.get("AR_PDF_WORKERS")
    workers = int(configured) if configured else (os.cpu_count() or 1) - 1
    return max(1, min(workers, MAX_WORKERS, count // MIN_DOCS_PER_WORKER))


class PdfCache:
    """PDFs on disk by the hash of their HTML, so an unchanged invoice renders once.

    The HTML holds every figure, label, style and the branding, so the same
    HTML with the same WeasyPrint version gives the same document.
    """

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    @staticmethod
    def key(html: str) -> str:
        # TODO: add the resolved font files to the key, because a font package
        # upgrade changes the glyphs but not the HTML; remove when the fonts ship
        # in templates/ and are loaded with @font-face (their bytes then count).
        digest = hashlib.sha256()
        digest.update(f"weasyprint {weasyprint.__version__}\n".encode())
        digest.update(html.encode("utf-8"))
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.pdf"

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        return path.read_bytes() if path.is_file() else None

    def put(self, key: str, pdf: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written beside and renamed, so a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
            tmp.write(pdf)
        os.replace(tmp.name, path)
