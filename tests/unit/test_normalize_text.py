"""bytes → text and line clean-up: encodings, mojibake, invisible characters, whitespace."""

from __future__ import annotations

import ftfy.bad_codecs  # noqa: F401  (registers the sloppy-windows-1252 codec)
import pytest

from worker.normalize.text import clean_lines, decode_bytes
from worker.records import InputRejected, RejectCode

SENTENCE = "The café on Rue Saint-Dénis reopened, said its owner, “we’re back.”"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"])
def test_western_text_decodes_in_common_encodings(encoding):
    text = SENTENCE if encoding not in ("latin-1",) else SENTENCE.replace("“", '"').replace("”", '"').replace("’", "'")
    assert decode_bytes(text.encode(encoding)) == text


def test_cyrillic_and_japanese_legacy_encodings_are_detected():
    russian = "Переговоры возобновятся в понедельник, сообщили в министерстве иностранных дел. " * 4
    japanese = "東京で両国の外相が会談し、停戦の再開について協議した。会談は二時間に及んだ。" * 4
    assert decode_bytes(russian.encode("cp1251")) == russian
    assert decode_bytes(japanese.encode("shift_jis")) == japanese


def test_utf8_with_stray_windows_1252_bytes_is_repaired_not_rejected():
    data = "Le café ouvre".encode("utf-8") + b" \x93today\x94 at 9."
    assert decode_bytes(data) == "Le café ouvre “today” at 9."


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4,
        b"%PDF-1.7\n" + bytes(200),
        bytes(range(0, 32)) * 40,
        bytes([0xF7, 0x00, 0x13, 0x9C, 0x01, 0xFF, 0x02]) * 300,
    ],
    ids=["png", "pdf", "controls", "noise"],
)
def test_binary_data_is_rejected_as_binary_body(data):
    with pytest.raises(InputRejected) as caught:
        decode_bytes(data)
    assert caught.value.code is RejectCode.BINARY_BODY


def test_mojibake_is_repaired_and_curly_quotes_kept():
    broken = SENTENCE.encode("utf-8").decode("sloppy-windows-1252")  # how a wrong decoder reads UTF-8
    assert broken != SENTENCE
    assert clean_lines(broken) == [SENTENCE]


def test_html_entities_left_in_plain_text_are_unescaped():
    assert clean_lines("Fish &amp; chips prices rose 5&#37;.") == ["Fish & chips prices rose 5%."]


def test_invisible_and_control_characters_go_spaces_collapse_lines_stay():
    text = "\ufeffMayor\u00a0 speaks\u200b  today.\r\n\r\n\tCouncil\x07 votes\u2028on budget.\x0c"
    assert clean_lines(text) == ["Mayor speaks today.", "", "Council votes", "on budget.", ""]


def test_combining_characters_are_composed_to_nfc():
    (line,) = clean_lines("Zu\u0308rich and Sa\u0303o Paulo")
    assert line == "Zürich and São Paulo"
    assert len(line) == len("Zürich and São Paulo")


def test_zero_width_joiners_in_scripts_that_need_them_are_kept():
    persian = "می\u200cخواهم"
    assert clean_lines(persian) == [persian]
