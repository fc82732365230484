"""bytes → clean Unicode text, and the line-level clean-up every body goes through.

reads: raw bytes / body text — writes: text that is valid, NFC, without mojibake, invisible or control
characters, with ``\\n`` line breaks and single spaces inside lines. Curly quotes are kept.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

import charset_normalizer
import ftfy

from worker.records import InputRejected, RejectCode

# Files that are certainly not text, whatever a detector would make of their bytes.
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"PK\x03\x04", b"\x1f\x8b", b"\x7fELF", b"BZh")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    # A UTF-8 text with a few stray Windows-1252 bytes (a pasted curly quote, say) is repaired byte by byte.
    assert isinstance(error, UnicodeDecodeError)
    bad = error.object[error.start : error.end]
    return bad.decode("cp1252", errors="replace"), error.end


codecs.register_error("newsworker-cp1252", _cp1252_fallback)


def decode_bytes(data: bytes) -> str:
    """Decode a body: UTF-8 (stray cp1252 bytes repaired), else a detected encoding; reject binary data.

    >>> decode_bytes("café".encode("utf-8")), decode_bytes("café".encode("cp1252"))
    ('café', 'café')
    """
    if data.startswith(_BINARY_MAGIC):
        raise InputRejected(RejectCode.BINARY_BODY, "the body is a binary file (its first bytes are a file signature)")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _check_text(data.decode(encoding).lstrip("\ufeff"))
            except UnicodeDecodeError:
                break
    try:
        return _check_text(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise InputRejected(RejectCode.BINARY_BODY, "the body holds NUL bytes and is not UTF-16/32 text")
    # Mostly valid UTF-8 with a few broken bytes: keep the UTF-8 and patch the bytes. A text with no valid
    # multi-byte UTF-8 sequence at all is in some other encoding: ask the detector.
    escaped = data.decode("utf-8", errors="surrogateescape")
    broken = sum(1 for ch in escaped if "\udc80" <= ch <= "\udcff")
    multibyte = sum(1 for ch in escaped if ord(ch) > 0x7F and not "\udc80" <= ch <= "\udcff")
    if multibyte and broken <= max(3, multibyte // 4):
        return _check_text(data.decode("utf-8", errors="newsworker-cp1252"))
    # Mostly ASCII with scattered high bytes is a Western European page in Windows-1252 / Latin-1 (a
    # detector guesses wildly on so little evidence); scripts that need another legacy encoding (Cyrillic,
    # Greek, CJK) put a high byte in most words, and the detector has plenty to go on.
    high = sum(1 for byte in data[:20_000] if byte > 0x7F)
    if high <= max(2, len(data[:20_000]) // 5):
        return _check_text(data.decode("cp1252", errors="replace"))
    best = charset_normalizer.from_bytes(data[:200_000]).best()
    if best is None or best.encoding is None:
        raise InputRejected(RejectCode.BINARY_BODY, "the body is not text in any encoding that could be detected")
    return _check_text(data.decode(best.encoding, errors="replace"))


def _check_text(text: str) -> str:
    sample = text[:20_000]
    if not sample:
        return text
    junk = sum(1 for ch in sample if (ch < " " and ch not in "\t\n\r\f\v") or ch == "\ufffd" or "\x7f" <= ch < "\xa0")
    if junk > max(8, len(sample) // 20):
        raise InputRejected(
            RejectCode.BINARY_BODY, f"the body looks binary ({junk} control or undecodable characters in {len(sample)})"
        )
    return text


# ------------------------------------------------------------------------------------------- clean-up

# UTF-8 read as Windows-1252 / Latin-1 leaves a lead character (Â..ô) followed by a continuation character;
# HTML entities left in plain text are ftfy's business too. Only lines with one of these go through ftfy:
# fix_text on a whole 8 KB article costs ~6 ms, the check a few microseconds.
_MOJIBAKE_HINT = re.compile(
    # The look-ahead lets the scan skip, in C, every character that cannot start a hint.
    "(?=[\u00c2-\u00f4&\ufb00-\ufb06\uff01-\uff5e])(?:"
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014"
    "\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122]|&(?:[a-zA-Z]{2,8}|#\\d{2,6}|#x[0-9a-fA-F]{2,5});"
    "|[\ufb00-\ufb06\uff01-\uff5e])"
)
_FTFY = ftfy.TextFixerConfig(uncurl_quotes=False, fix_line_breaks=False, normalization="NFC", explain=False)

_LINE_BREAKS = re.compile("\r\n|[\r\u2028\u2029\x0b\x0c\x85]")
# Invisible format characters and controls go. ZWJ/ZWNJ stay: Persian, Indic scripts and emoji need them.
# Spaces of every width (NBSP, thin, ideographic...) are whitespace to str.split and become one plain space.
_DROP = re.compile("[\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufffc"
                   "\x00-\x08\x0e-\x1f\x7f-\x9f]+")


def clean_lines(text: str) -> list[str]:
    r"""Repair and tidy a body; one stripped line per input line (blank lines kept as ``""``).

    Most lines take the fast path: ``str.isprintable`` (C) proves they hold no control, invisible or odd
    space character, and only runs of spaces need collapsing. Only lines that may hold mojibake go to ftfy.

    >>> clean_lines("Caf\u00c3\u00a9 \u00a0 opens\u200b.\r\n\r\n  \u201cYes\u201d  ")
    ['Café opens.', '', '“Yes”']
    """
    if any(mark in text for mark in "\r\x0b\x0c\x85\u2028\u2029"):
        text = _LINE_BREAKS.sub("\n", text)
    if (not text.isascii() or "&" in text) and _MOJIBAKE_HINT.search(text):
        text = "\n".join(
            ftfy.fix_text(line, _FTFY) if _MOJIBAKE_HINT.search(line) else line for line in text.split("\n")
        )
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if not line.isprintable():
            line = _DROP.sub("", line)
        elif "  " not in line and line[:1] != " " and line[-1:] != " ":
            continue
        lines[i] = " ".join(line.split())
    return lines
