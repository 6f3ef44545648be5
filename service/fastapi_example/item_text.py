"""What an item's name and description may hold: no control characters, and in a name no
line breaks or invisible characters; the same rules as validators (short messages) and as
the OpenAPI patterns (tested to agree)."""

import re

from fastapi_example.names import DEFAULT_IGNORABLE

# C0 controls, DEL and C1 controls (Unicode category Cc): a terminal obeys ESC and CSI
# (U+009B) in text it prints, and no name or description needs the others.
CONTROLS = ((0x00, 0x1F), (0x7F, 0x9F))
TAB_AND_LINE_BREAKS = ((0x09, 0x0A), (0x0D, 0x0D))  # tab, line feed, carriage return
SEPARATORS = ((0x2028, 0x2029),)  # line and paragraph separators: line breaks
# Bidi embeddings, overrides and isolates: they reorder the text shown after them.
BIDI_CONTROLS = ((0x202A, 0x202E), (0x2066, 0x2069))
# Invisible characters a name keeps because they shape what they sit between: the
# zero-width non-joiner (Persian), the joiner (emoji sequences) and variation selectors
# (emoji presentation, Mongolian).
SHAPING = (
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0x200C, 0x200D),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)


def code_points(*tables: tuple[tuple[int, int], ...]) -> set[int]:
    return {point for table in tables for first, last in table for point in range(first, last + 1)}


def class_of(points: set[int]) -> str:
    """A regex character class's inside listing these code points. In the BMP as \\uXXXX,
    which Python, Rust and JSON Schema's (ECMA 262) regexes all read; others as themselves,
    since ECMA 262 has no escape for them."""

    def char(point: int) -> str:
        return f"\\u{point:04X}" if point <= 0xFFFF else chr(point)

    ranges: list[list[int]] = []
    for point in sorted(points):
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges)


# An item name: no control characters, line breaks or invisible (default-ignorable)
# characters but the shaping ones, and no white space at either end. The validator says
# which with a short message; NAME_PATTERN states the same in the OpenAPI (tested to agree).
NAME_REFUSED = class_of(code_points(CONTROLS, SEPARATORS, DEFAULT_IGNORABLE) - code_points(SHAPING))
NAME_PATTERN = f"^[^\\s{NAME_REFUSED}]([^{NAME_REFUSED}]*[^\\s{NAME_REFUSED}])?$"
# A description: several lines, but no other control characters and no bidi controls.
DESCRIPTION_REFUSED = class_of(
    code_points(CONTROLS, BIDI_CONTROLS) - code_points(TAB_AND_LINE_BREAKS)
)
DESCRIPTION_PATTERN = f"^[^{DESCRIPTION_REFUSED}]*$"
REFUSED_IN_NAMES = re.compile(f"[{NAME_REFUSED}]")
REFUSED_IN_DESCRIPTIONS = re.compile(f"[{DESCRIPTION_REFUSED}]")


def plain_name(value: str) -> str:
    if REFUSED_IN_NAMES.search(value):
        raise ValueError("must not contain control or invisible characters")
    if value != value.strip():  # the white space str.strip takes is what \s matches
        raise ValueError("must not start or end with white space")
    return value


def plain_description(value: str) -> str:
    if REFUSED_IN_DESCRIPTIONS.search(value):
        raise ValueError(
            "must not contain control characters (but tab and line breaks) or bidi controls"
        )
    return value
