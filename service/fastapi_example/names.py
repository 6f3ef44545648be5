"""Usernames: one form per name (NFKC), compared without case, from a documented alphabet.

A username is kept as NFKC makes it (the compatibility forms people type by accident, such
as full-width letters, become the usual ones) and compared by its key, NFKC and then case
folded: `Admin` and `admin` are one name. Its characters are letters, combining marks (at
most MAX_MARKS on a letter), decimal digits and `.`, `_`, `-`, with at least one letter or
digit; no spaces, no invisible characters (DEFAULT_IGNORABLE) or control characters, no
symbols (emoji included). Its letters come from one script, or from Latin with Han,
Hiragana and Katakana (Japanese), with Han and Bopomofo, or with Han and Hangul (Unicode's
"highly restrictive" profile, UTS 39), and its digits from one numbering system, 0-9 or
its letters' script's: "paypal" spelt with a Cyrillic "p" and "a" is refused, and so is
"google" with Bengali zeros for its o's. Letters that look alike within one script (Latin
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
# Unicode character names start with their script for most letters and digits; these say
# it otherwise ("ARABIC-INDIC DIGIT ONE", "EXTENDED ARABIC-INDIC DIGIT ONE").
SCRIPT_OF_NAME = {
    "CJK": "HAN",
    "KATAKANA-HIRAGANA": "KATAKANA",
    "IDEOGRAPHIC": "HAN",
    "ARABIC-INDIC": "ARABIC",
    "EXTENDED": "ARABIC",
}
# Combining marks one letter may carry once NFKC composed what it can (é, ễ are one letter):
# Hebrew pointing and Tibetan stacks put three on a letter; more is text stacked out of its
# line.
MAX_MARKS = 3
# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt, the same from
# Unicode 14 to 16; the standard library has no API for it): characters a renderer shows as
# nothing. Some are letters (the Hangul fillers, Lo) or marks (variation selectors, Mn), so
# the categories alone let them in: "admin" + U+1160 looked like "admin".
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x061C, 0x061C),  # Arabic letter mark
    (0x115F, 0x1160),  # Hangul choseong and jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors, vowel separator
    (0x200B, 0x200F),  # zero-width space, (non-)joiner, left-to-right and right-to-left marks
    (0x202A, 0x202E),  # bidi embeddings and overrides
    (0x2060, 0x206F),  # word joiner, invisible operators, bidi isolates, deprecated formats
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors 1-16
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # half-width Hangul filler
    (0xFFF0, 0xFFF8),  # unassigned
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors 17-256, unassigned
)


def username_key(username: str) -> str:
    """What two usernames share when a reader would take them for the same name."""
    return unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", username).casefold())


def is_default_ignorable(char: str) -> bool:
    return any(first <= ord(char) <= last for first, last in DEFAULT_IGNORABLE)


def _script(char: str) -> str:
    first = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
    return SCRIPT_OF_NAME.get(first, first)


def checked_username(value: str) -> str:
    """The name in NFKC, or ValueError saying which rule it breaks."""
    name = unicodedata.normalize("NFKC", value)
    scripts, digit_scripts, zeros = set(), set(), set()
    previous, marks = "", 0
    for char in name:
        if is_default_ignorable(char):
            raise ValueError("must not contain invisible characters")
        category = unicodedata.category(char)
        marks = marks + 1 if category.startswith("M") else 0
        if category.startswith("L"):
            scripts.add(_script(char))
        elif category.startswith("M"):
            if not previous or unicodedata.category(previous)[0] not in "LM":
                raise ValueError("a combining mark must follow a letter")
            if marks > MAX_MARKS:
                raise ValueError(f"at most {MAX_MARKS} combining marks on a letter")
        elif category == "Nd":
            zeros.add(ord(char) - unicodedata.digit(char))
            if not char.isascii():  # 0-9 go with any script; others belong to theirs
                digit_scripts.add(_script(char))
        elif char not in PUNCTUATION:
            raise ValueError("may contain only letters, digits and . _ -")
        previous = char
    if not scripts and not zeros:
        raise ValueError("must contain a letter or a digit")
    if len(scripts) > 1 and not any(scripts <= allowed for allowed in MIXABLE):
        raise ValueError("must not mix letters of different scripts")
    if len(zeros) > 1:
        raise ValueError("must not mix digits of different numbering systems")
    if scripts and not digit_scripts <= scripts:
        raise ValueError("digits other than 0-9 must be of the letters' script")
    if not 3 <= len(name) <= 30:
        raise ValueError("must be 3 to 30 characters long")
    return name
