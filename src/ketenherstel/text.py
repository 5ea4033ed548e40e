"""Typed text that the system keeps and shows again: a reason for a change, a registering role.

Such a text is shown later in a terminal, a table, a web page or a briefing. A control
character in it (an escape sequence, a NUL, a backspace) can rewrite what a terminal shows, and
an invisible formatting character (a right-to-left override) can make it read as something
else. They are refused where the text comes in; tabs and line breaks are text, except in a
name (`one_line`). So is a lone surrogate (U+D800 to U+DFFF, which JSON's ``\ud800`` escape
can give): it is no character at all, and could not be stored as UTF-8.

Such a text is also shown to people who may see no personal data (the picture's timeline, an
audit trail, the status page): a person's strafrechtketennummer (SKN), burgerservicenummer
(BSN) or e-mail address in it is refused where it comes in too (`personal_identifier`), and
never repeated in the refusal.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["hidden_character", "personal_identifier", "redacted", "text_problem"]

# A person's strafrechtketennummer, burgerservicenummer or e-mail address: personal data in a
# free text, also as people write it to get past a check. The number after one separator (a
# space, a dash of any kind, a colon, a slash) or "nummer"/"nr.", with as many digits as the
# number has (an SKN 10, a BSN 9: "SKN 1234567 stuks" is a count); an address with spaces
# around its @ when its name part is a person's (j.jansen @ om.nl: "storing @ justid.nl" is
# not), or with the @ written out (j.jansen[at]om[dot]nl). Each part starts only where a word
# does, so a long text is searched in linear time.
_SEP = r"(?:[\s\-\u2010-\u2015\u2212_:#/=]\s?)?(?:(?:nummer|nr\.?)\s?[:#]?\s?)?"
_AT = r"\s*[\[({]\s*at\s*[\])}]\s*"
_DOT = r"(?:\.|\s*[\[({]\s*(?:dot|punt)\s*[\])}]\s*)"
_IDENTIFIERS = re.compile(
    r"(?<![\w-])SKN-?\d{6,}(?!\w)"
    rf"|(?<![\w-])SKN{_SEP}\d{{10}}(?!\d)"
    rf"|(?<![\w-])(?:BSN|burgerservicenummer){_SEP}\d{{9}}(?!\d)"
    r"|(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
    r"|(?<![\w.+-])[a-z]+[._-][a-z]+\s*@\s*[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?![\w.])"
    rf"|(?<![\w.+-])[\w.+-]+{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[a-z]{{2,}}(?![\w.])",
    re.IGNORECASE,
)


def personal_identifier(text: str) -> bool:
    """Whether ``text`` holds a person's SKN (SKN-0123456789, also SKN 0123456789, SKN-nummer
    0123456789 or with another dash), a BSN named as one (BSN 123456782) or an e-mail address
    (also j.jansen @ om.nl, or the @ written out as [at]); checked in the NFKC form, so that a
    full-width hyphen or @ is one too."""
    return _IDENTIFIERS.search(unicodedata.normalize("NFKC", text)) is not None


_TEXT = frozenset("\t\n\r")


_HIDDEN = ("Cc", "Cf", "Cs")  # control, formatting (invisible), surrogate


def hidden_character(text: str, *, one_line: bool = False) -> str | None:
    """The first control or invisible formatting character (or lone surrogate) in ``text``,
    named (``U+001B``), or None when it has none. With ``one_line`` (a name, such as a go-live
    wave's) a tab or a line break counts too."""
    # A printable text holds none (str.isprintable is false for every Cc, Cf and Cs code point,
    # checked over all of Unicode in tests/test_text.py): the common case, without a Python
    # loop over its characters.
    if text.isprintable():
        return None
    for ch in text:
        if (one_line or ch not in _TEXT) and unicodedata.category(ch) in _HIDDEN:
            return f"U+{ord(ch):04X}"
    return None


def text_problem(text: str, what: str, limit: int, *, one_line: bool = False) -> str | None:
    """What is wrong with a kept text, or None: longer than ``limit`` characters, or holding
    a control or invisible character. ``what`` names it in the answer: ``a reason``."""
    if len(text) > limit:
        return f"{what} is at most {limit} characters, not {len(text):,}"
    hidden = hidden_character(text, one_line=one_line)
    if hidden is not None:
        return f"{what} holds no control or invisible characters ({hidden})"
    return None


def redacted(text: str) -> str:
    """``text`` made fit to keep where no personal data and no hidden characters may go, when
    it quotes what someone else sent (why a message could not be applied): each SKN or e-mail
    address becomes ``[…]`` and each control or invisible character (or lone surrogate) its
    code, ``<U+001B>``; tabs and line breaks stay."""
    text = _IDENTIFIERS.sub("[…]", text)
    if text.isprintable():
        return text
    return "".join(
        f"<U+{ord(ch):04X}>" if ch not in _TEXT and unicodedata.category(ch) in _HIDDEN else ch
        for ch in text
    )
