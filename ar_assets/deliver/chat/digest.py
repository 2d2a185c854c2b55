"""Many alerts for one space as a digest: one line per alert, split under the size limit.

A digest line keeps what the card's headline says (title, client, tier,
amounts per currency, the HubSpot link) and adds the oldest days past due. The
parts are split between lines so that each whole webhook body, JSON included,
stays within Chat's 32,000 bytes.
"""

from __future__ import annotations

import json

from ar_assets.render.chat import CHAT_MESSAGE_LIMIT_BYTES, split_digest

# One alert's line never needs more than this; a longer one (a very long client
# name) is shortened so that no line is ever split across two messages.
MAX_LINE_BYTES = 2_000
# Room for the part header ("*AR alerts …* part 12 of 13, 1,234 alerts").
HEADER_ROOM_BYTES = 200


def digest_line(body: dict, oldest_dpd: int | None = None) -> str:
    """One line for a rendered card: its headline, the oldest dpd, its link."""
    lines = [part.strip() for part in str(body.get("text") or "").split("\n") if part.strip()]
    links = [part for part in lines if part.startswith("<") and part.endswith(">")]
    words = [part for part in lines if part not in links]
    if oldest_dpd is not None:
        words.append(f"oldest {oldest_dpd} days past due")
    return _shorten(" · ".join(words + links), MAX_LINE_BYTES)


def _shorten(text: str, limit: int) -> str:
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    return data[: limit - 3].decode("utf-8", errors="ignore") + "…"


def _json_size(body: dict) -> int:
    return len(json.dumps(body, ensure_ascii=False).encode("utf-8"))


def digest_bodies(lines: list[str], title: str, thread_key: str,
                  limit: int = CHAT_MESSAGE_LIMIT_BYTES) -> list[tuple[dict, int]]:
    """Webhook bodies of the digest, in order, each with how many lines it carries."""
    def body(text: str) -> dict:
        return {"text": text, "thread": {"threadKey": thread_key}}

    budget = limit - _json_size(body("")) - HEADER_ROOM_BYTES
    while True:
        parts = split_digest(lines, budget)
        total = len(parts)
        bodies = []
        for number, part in enumerate(parts, start=1):
            count = part.count("\n") + 1
            header = f"*{title}* part {number} of {total}, {count} alerts" if total > 1 \
                else f"*{title}*, {count} alerts"
            bodies.append((body(f"{header}\n{part}"), count))
        worst = max(_json_size(b) for b, _ in bodies)
        if worst <= limit:
            return bodies
        # JSON escaping (quotes, newlines) made a part too big: split tighter.
        budget -= worst - limit
