"""Sessions of the web UI (decision 0013).

A person signs in with an operator or viewer token; a partner's token is refused. The cookie
holds the token's SHA-256 (never the token), an expiry and a CSRF secret (which also names the
session), signed with HMAC under a key the server process keeps: a restart signs everyone out.
Every request checks the credential again (through the exchange's short cache), so a revoked
token ends its sessions; signing out ends that session on the server too, not only in the
browser.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from ketenherstel.exchange.auth import Principal, hash_token
from ketenherstel.exchange.errors import Unauthenticated
from ketenherstel.exchange.service import Exchange

__all__ = ["COOKIE", "Session", "Sessions"]

COOKIE = "kh_sessie"
LIFETIME = 8 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    csrf: str
    cookie: str


class Sessions:
    def __init__(self, exchange: Exchange, key: bytes | None = None) -> None:
        self.exchange = exchange
        self._key = key or secrets.token_bytes(32)
        self._ended: dict[str, float] = {}  # session (its CSRF secret) -> its expiry
        self._lock = threading.Lock()

    def _sign(self, payload: bytes) -> str:
        mac = hmac.new(self._key, payload, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(payload + mac).decode().rstrip("=")

    def sign_in(self, token: str) -> Session:
        """A new session for a person's token; ``Unauthenticated`` with the reason otherwise."""
        principal = self.exchange.authenticate_token(token.strip())
        if principal.partner_key is not None or not principal.can_view:
            raise Unauthenticated(
                "een token van een ketenpartner geeft geen toegang tot het beeld; "
                "meld u aan met een token voor een operator of kijker"
            )
        csrf = secrets.token_hex(16)
        expiry = int(time.time()) + LIFETIME
        payload = f"{hash_token(token.strip())}|{expiry}|{csrf}".encode()
        return Session(principal, csrf, self._sign(payload))

    def sign_out(self, cookie: str | None) -> None:
        """End this session on the server: a copy of the cookie no longer works."""
        found = self._read(cookie)
        if found is None:
            return
        _, expiry, csrf = found
        now = time.time()
        with self._lock:
            self._ended = {k: v for k, v in self._ended.items() if v > now}
            self._ended[csrf] = expiry

    def _read(self, cookie: str | None) -> tuple[str, float, str] | None:
        if not cookie:
            return None
        try:
            raw = base64.urlsafe_b64decode(cookie + "=" * (-len(cookie) % 4))
        except (ValueError, TypeError):
            return None
        payload, mac = raw[:-32], raw[-32:]
        good = hmac.new(self._key, payload, hashlib.sha256).digest()
        if len(raw) <= 32 or not hmac.compare_digest(mac, good):
            return None
        try:
            digest, expiry, csrf = payload.decode().split("|")
            return digest, float(expiry), csrf
        except ValueError:
            return None

    def check(self, cookie: str | None) -> Session | None:
        """The session a cookie carries, if it is genuine, current, not signed out, and its
        token still valid."""
        found = self._read(cookie)
        if found is None or cookie is None:
            return None
        digest, expiry, csrf = found
        if expiry < time.time():
            return None
        with self._lock:
            if csrf in self._ended:
                return None
        principal = self.exchange.principal_by_hash(digest)
        if principal is None or principal.partner_key is not None or not principal.can_view:
            return None
        return Session(principal, csrf, cookie)
