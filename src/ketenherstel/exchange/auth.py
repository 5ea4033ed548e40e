"""Who is calling: bearer tokens (stored as SHA-256 hashes) and client certificates (mTLS).

Tokens are 256 random bits, so a fast hash is enough: nobody can brute-force the preimage, and
the store never holds a usable secret. In production a partner presents a PKIoverheid-style client
certificate whose subject `serialNumber` carries its OIN, as Digikoppeling does.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from dataclasses import dataclass
from typing import Literal

from ketenherstel.exchange.errors import InvalidInput
from ketenherstel.store.ports import Role, person_key, same_person
from ketenherstel.text import text_problem

TOKEN_PREFIX = "kh_"
_TOKEN = re.compile(r"^kh_[A-Za-z0-9_-]{43}$")
OIN = re.compile(r"^[0-9]{20}$")


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. Partners carry their key and OIN; people carry a role."""

    name: str
    role: Role
    partner_key: str | None
    via: Literal["token", "certificate", "local"]

    @property
    def is_operator(self) -> bool:
        return self.role == "operator"

    @property
    def can_view(self) -> bool:
        return self.role in ("operator", "viewer")


LOCAL_OPERATOR = Principal("local-cli", "operator", None, "local")
"""The command line itself, acting where no person is named (the demo's set-up, a scenario run)."""
LOCAL_READER_PREFIX = f"{LOCAL_OPERATOR.name}:"
"""How the name of a read at the command line without --as begins (`local_reader`)."""

MAX_PERSON_NAME = 100
"""The longest name of a person: a token's holder, an operator named with `--as`."""


def person_name(person: str) -> str:
    """A person's name as the exchange keeps it (a token's holder, an operator named with
    `--as`, who is then an audit record's actor and a release's requester or approver):
    stripped, 1 to MAX_PERSON_NAME characters, printable (no line break, tab, escape or
    invisible character) and not the local command line's own name; else InvalidInput."""
    name = person.strip()
    if not name or len(name) > MAX_PERSON_NAME:
        raise InvalidInput(f"a person's name is 1 to {MAX_PERSON_NAME} characters")
    if any(unicodedata.category(c) in ("Cc", "Cf") for c in name):
        raise InvalidInput(
            f"a person's name holds no control or invisible characters, not {name!r}"
        )
    if same_person(name, LOCAL_OPERATOR.name):
        raise InvalidInput(f"{LOCAL_OPERATOR.name!r} is the local command line's own name")
    if person_key(name).startswith(LOCAL_READER_PREFIX):
        raise InvalidInput(
            f"{name!r}: '{LOCAL_READER_PREFIX}LOGIN' is the local command line's own name "
            "for a login of this machine"
        )
    return name


MAX_LABEL = 200
"""The longest label of a token (what it is for): the API's limit, the same from the CLI."""


def token_label(label: str) -> str:
    """A token's label as the exchange keeps it, checked as a reason is: at most MAX_LABEL
    characters, without control or invisible characters (it is shown in `token list` and the
    API's credentials); else InvalidInput."""
    problem = text_problem(label, "a token's label", MAX_LABEL)
    if problem is not None:
        raise InvalidInput(problem)
    return label


def local_operator(name: str) -> Principal:
    """An operator at this machine's command line, named with `--as` (a release and a
    briefing take two of them): the name checked as a token's holder is (`person_name`)."""
    return Principal(person_name(name), "operator", None, "local")


def local_reader(login: str) -> Principal:
    """An operator at this machine's command line who reads without naming themselves with
    `--as`: ``local-cli:LOGIN``, the machine's login that ran the command, so the audit log
    says who read. No person may take such a name (`person_name`)."""
    return Principal(f"{LOCAL_READER_PREFIX}{login}", "operator", None, "local")


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def looks_like_token(token: str) -> bool:
    return bool(_TOKEN.match(token))


def new_credential_id() -> str:
    return "cred-" + secrets.token_hex(8)


def same_hash(a: str, b: str) -> bool:
    return hmac.compare_digest(a, b)


def oin_from_subject(subject: tuple[tuple[tuple[str, str], ...], ...]) -> str | None:
    """The OIN in a certificate subject as Python's ssl module returns it (getpeercert())."""
    for rdn in subject:
        for name, value in rdn:
            if name == "serialNumber" and OIN.match(value):
                return value
    return None
