"""Text that people bring from spreadsheets: registers and batches come out of Chinese Excel and WPS.

They save CSV as UTF-8 with a BOM, plain UTF-8, or GB18030 (the "ANSI" of a Chinese Windows). UTF-8 is
tried first: Chinese text in UTF-8 often also decodes as GB18030, into the wrong characters, while GB18030
text is almost never valid UTF-8.
"""

from __future__ import annotations

ENCODINGS = ("utf-8-sig", "gb18030")


def decode(raw: bytes) -> tuple[str, str]:
    """(text, the encoding it was read in); ValueError if it is none of ENCODINGS."""
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise ValueError("the file is neither UTF-8 nor GB18030 text")
