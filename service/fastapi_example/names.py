"""Usernames: one form per name (NFKC), compared without case, from a documented alphabet.

A username is kept as NFKC makes it (the compatibility forms people type by accident, such
as full-width letters, become the usual ones) and compared by its key, NFKC and then case
folded: `Admin` and `admin` are one name. Its characters are letters, combining marks,
decimal digits and `.`, `_`, `-`; no spaces, no invisible or control characters, no symbols
(emoji included). Its letters come from one script, or from Latin with Han, Hiragana and
Katakana (Japanese), with Han and Bopomofo, or with Han and Hangul (Unicode's "highly
restrictive" profile, UTS 39), and its digits from one numbering system: "paypal" spelt
with a Cyrillic "p" and "a" is refused. Letters that look alike within one script (Latin
dotless and dotted i) remain different names.
"""

import unicodedata

PUNCTUATION = frozenset("._-")
# Scripts that may share a name (UTS 39 highly restrictive): Latin with one of these sets.
MIXABLE = (
    frozenset({"LATIN", "HAN", "HIRAGANA", "KATAKANA"}),
    frozenset({"LATIN", "HAN", "BOPOMOFO"}),
    frozenset({"LATIN", "HAN", "HANGUL"}),
)
# Unicode character names start with their script for most letters; these say it otherwise.
SCRIPT_OF_NAME = {"CJK": "HAN", "KATAKANA-HIRAGANA": "KATAKANA", "IDEOGRAPHIC": "HAN"}


def username_key(username: str) -> str:
    """What two usernames share when a reader would take them for the same name."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def _script(letter: str) -> str:
    first = unicodedata.name(letter, "UNKNOWN").split(" ", 1)[0]
    return SCRIPT_OF_NAME.get(first, first)


def checked_username(value: str) -> str:
    """The name in NFKC, or ValueError saying which rule it breaks."""
    name = unicodedata.normalize("NFKC", value)
    scripts, zeros = set(), set()
    previous = ""
    for char in name:
        category = unicodedata.category(char)
        if category.startswith("L"):
            scripts.add(_script(char))
        elif category.startswith("M"):
            if not previous or unicodedata.category(previous)[0] not in "LM":
                raise ValueError("a combining mark must follow a letter")
        elif category == "Nd":
            zeros.add(ord(char) - unicodedata.digit(char))
        elif char not in PUNCTUATION:
            raise ValueError("may contain only letters, digits and . _ -")
        previous = char
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in MIXABLE):
        raise ValueError("must not mix letters of different scripts")
    if len(zeros) > 1:
        raise ValueError("must not mix digits of different numbering systems")
    if not 3 <= len(name) <= 30:
        raise ValueError("must be 3 to 30 characters long")
    return name
