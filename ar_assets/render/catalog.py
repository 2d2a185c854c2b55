"""Where templates live, which languages they ship, and the Jinja environment.

A language is supported by adding files: `templates/email/<lang>/` for client
emails and `templates/labels/<lang>.yaml` for PDF labels and file names.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from ar_assets.policy import PROJECT_ROOT

DEFAULT_TEMPLATES_DIR = PROJECT_ROOT / "templates"
FALLBACK_LANGUAGE = "en"
EMAIL_TIERS = (1, 2, 3)


def templates_dir(path: str | Path | None = None) -> Path:
    """The templates folder: `path`, else AR_TEMPLATES_DIR, else the repo's."""
    return Path(path or os.environ.get("AR_TEMPLATES_DIR") or DEFAULT_TEMPLATES_DIR)


@lru_cache(maxsize=8)
def jinja_env(root: Path) -> Environment:
    """Autoescaping for .html templates; text and subjects are left as written."""
    return Environment(
        loader=FileSystemLoader(str(root)),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def email_template_names(language: str, tier: int) -> tuple[str, str, str]:
    """Subject, text and HTML template paths of one language and tier."""
    folder = f"email/{language}"
    return (
        f"{folder}/tier{tier}_subject.txt",
        f"{folder}/tier{tier}_body.txt",
        f"{folder}/tier{tier}_body.html",
    )


def email_languages(root: Path) -> tuple[str, ...]:
    """Languages whose folder holds every tier's subject, text and HTML."""
    base = root / "email"
    if not base.is_dir():
        return ()
    return tuple(
        sorted(
            folder.name
            for folder in base.iterdir()
            if all(
                (root / name).is_file()
                for tier in EMAIL_TIERS
                for name in email_template_names(folder.name, tier)
            )
        )
    )


def label_languages(root: Path) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in (root / "labels").glob("*.yaml")))


def pick_language(requested: str | None, available: tuple[str, ...]) -> str:
    """`requested` ('ja', 'ja_JP', 'ja-JP') when shipped, else English."""
    if requested:
        code = requested.strip().replace("-", "_")
        for candidate in (code, code.split("_")[0].lower()):
            if candidate in available:
                return candidate
    return FALLBACK_LANGUAGE


@lru_cache(maxsize=32)
def labels(root: Path, language: str) -> dict[str, dict[str, str]]:
    """Sections of labels, the language's over English, so a missing key reads English."""
    merged: dict[str, dict[str, str]] = {}
    for code in dict.fromkeys((FALLBACK_LANGUAGE, language)):
        path = root / "labels" / f"{code}.yaml"
        if not path.is_file():
            continue
        for section, entries in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).items():
            merged.setdefault(section, {}).update(entries or {})
    return merged
