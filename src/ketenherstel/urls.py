"""An http(s) address typed by someone: the exchange's (`--url`), a partner's webhook, the
status page's public address. One check for all three, standard library only."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit

__all__ = ["http_address"]


def http_address(url: str) -> tuple[SplitResult | None, str | None]:
    """``url`` split, or what keeps it from being an http(s) address with a host, as the end
    of a sentence about it ("has no spaces …"). The problem quotes no part of the URL but its
    host: the rest may be a secret (a webhook's token)."""
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return None, "has no spaces or control characters"
    if not url.startswith(("http://", "https://")):
        return None, "starts with http:// or https://"
    try:
        parts = urlsplit(url)
    except ValueError:  # brackets that hold no IPv6 address, or one not closed
        return None, "has a host that is a name or an address (brackets hold an IPv6 address)"
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is no number
    except ValueError:
        host = parts.hostname
        return None, f"has a wrong port: a port is a number from 0 to 65535 (host {host!r})"
    if not parts.hostname:
        return None, "names a host (http://HOST/…)"
    return parts, None
