"""Page structure: stories on a page, headline, standfirst, byline, dateline, paragraphs and sentences."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from worker.normalize import NormalizeConfig, fingerprint, normalize
from worker.normalize.dates import is_date_stamp, stamp_day
from worker.normalize.sentences import split_sentences
from worker.records import InputRejected, RawArticle, RejectCode

PUBLISHED = datetime(2024, 5, 17, 7, 0, tzinfo=timezone.utc)  # a Friday

PAGE = """\
Dam repairs finished ahead of the rains

By Ines Alvarado and Tom Reyes

GRANADA, Spain (Reuters) — Engineers finished repairing the Rules dam yesterday, a month ahead of the spring rains, the regional water authority said.

The work began in January after inspectors found cracks in the spillway.

Advertisement

Farmers downstream said they had waited since 2019 for the repairs.

Reservoir levels at a ten-year high
Levels in the province's reservoirs reached their highest in a decade on Wednesday, helped by a wet winter and the early end of the works.

Related Stories
Dam inspection finds spillway cracks
Inspectors say repairs will take months; farmers fear for the summer harvest
MOTRIL — Inspectors found cracks in the spillway of the Rules dam on Monday and ordered the reservoir partly drained.
Read more: the full inspection report
"""


@pytest.fixture(scope="module")
def stories():
    return normalize(RawArticle(id="page-1", body=PAGE, body_type="text", published_at=PUBLISHED))


def test_a_page_splits_into_main_sidebar_and_related_stories(stories):
    assert [(s.kind, s.part, s.headline) for s in stories] == [
        ("main", 0, "Dam repairs finished ahead of the rains"),
        ("sidebar", 1, "Reservoir levels at a ten-year high"),
        ("related", 2, "Dam inspection finds spillway cracks"),
    ]
    main_id = stories[0].id
    assert [s.parent_id for s in stories] == [None, main_id, main_id]
    assert all(s.source_id == "page-1" for s in stories)


def test_byline_dateline_and_standfirst_are_found_and_kept_out_of_the_body(stories):
    main, _, related = stories
    assert main.byline == "By Ines Alvarado and Tom Reyes"
    assert main.dateline is not None and main.dateline.place == "GRANADA, Spain"
    assert main.dateline.text == "GRANADA, Spain (Reuters) —"
    assert main.text.startswith("GRANADA, Spain (Reuters) — Engineers")
    assert "By Ines" not in main.text
    assert related.standfirst == "Inspectors say repairs will take months; farmers fear for the summer harvest"
    assert related.dateline is not None and related.dateline.place == "MOTRIL"
    assert related.text.startswith("MOTRIL — Inspectors")


def test_markers_and_furniture_never_reach_the_text(stories):
    for story in stories:
        for word in ("Advertisement", "Related Stories", "Read more"):
            assert word not in story.text


def test_paragraphs_are_the_page_lines_without_furniture(stories):
    main = stories[0]
    paragraphs = [main.text[p.start : p.end] for p in main.paragraphs]
    assert len(paragraphs) == 3
    assert paragraphs[0].endswith("a month ahead of the spring rains, the regional water authority said.")
    assert main.text == "\n\n".join(paragraphs)


STAMPED_PAGE = """\
Posted: May 16, 2024 6:40 PM EDT

Ferry returns to the island run

Crews put the ferry back on the island run on Thursday after its engines were rebuilt.

Passengers queued from dawn, the harbour master said.

Related Story
Ferry taken off the island run
Updated 11/03/2024
Sun, 3 Mar 2024
The ferry was taken out of service yesterday for engine work expected to last two months.
"""


def test_a_date_stamp_is_neither_headline_nor_standfirst_nor_text_and_dates_a_reproduced_story():
    main, related = normalize(RawArticle(id="stamped", body=STAMPED_PAGE, body_type="text", published_at=PUBLISHED))
    assert main.headline == "Ferry returns to the island run" and main.standfirst is None
    assert related.headline == "Ferry taken off the island run" and related.standfirst is None
    assert not any(word in a.text for a in (main, related) for word in ("Posted", "EDT", "Updated", "Sun,"))
    # the producer's time stays the main story's; the reproduced story was published on the day its stamp writes
    # out in full (11/03/2024 may be either of two days), and its "yesterday" is the day before that
    assert main.published_at == PUBLISHED and main.notices == ()
    assert related.published_at == datetime(2024, 3, 3, tzinfo=timezone.utc)
    # the day each stamp prints is kept whichever time published_at took (the page may be sent long after)
    assert (main.stamped_on, related.stamped_on) == (date(2024, 5, 16), date(2024, 3, 3))
    assert [(d.text, d.value) for d in related.dates] == [("yesterday", "2024-03-02")]
    assert [n["reason"] for n in related.notices] == [
        "publication day read from the story's date stamp (time 00:00 UTC)"]


def test_the_stamp_dates_the_main_story_only_when_the_producer_did_not():
    (article,) = normalize(RawArticle(id="s", body="Posted on Thu May 16, 2024 at 9:10 am\n\nFerry returns\n\n"
                                                   "Crews put the ferry back on the island run yesterday.",
                                      body_type="text"))
    assert article.headline == "Ferry returns"
    assert article.published_at == datetime(2024, 5, 16, tzinfo=timezone.utc)
    assert [(d.text, d.value) for d in article.dates] == [("yesterday", "2024-05-15")]


ADDRESSED_PAGE = """\
http://www.harbour-gazette.example/2024/05/17/ferry-returns

Ferry returns to the island run

Crews put the ferry back on the island run on Thursday after its engines were rebuilt.

Related Story
<www.coast-news.example/2024/03/03/ferry-out>
Ferry taken off the island run
The ferry was taken out of service yesterday for engine work expected to last two months.
See http://www.coast-news.example/timetable for the winter timetable.
"""


def test_an_address_line_atop_a_story_is_its_address_not_a_story_of_its_own():
    main, related = normalize(RawArticle(id="addressed", body=ADDRESSED_PAGE, body_type="text"))
    # taken for text, the first address would have been the whole main story and pushed the ferry story into a box
    assert (main.kind, main.headline) == ("main", "Ferry returns to the island run")
    assert main.text.startswith("Crews put the ferry back") and "harbour-gazette" not in main.text
    assert main.url == "http://www.harbour-gazette.example/2024/05/17/ferry-returns"
    assert related.headline == "Ferry taken off the island run"
    assert related.url == "www.coast-news.example/2024/03/03/ferry-out"
    # an address inside a story is part of what it says
    assert related.text.endswith("See http://www.coast-news.example/timetable for the winter timetable.")


def test_the_producers_url_outranks_the_address_printed_on_the_main_story():
    raw = RawArticle(id="a", body=ADDRESSED_PAGE, body_type="text", url="https://gazette.example/r/1")
    main, related = normalize(raw)
    assert main.url == "https://gazette.example/r/1"
    assert related.url == "www.coast-news.example/2024/03/03/ferry-out"


@pytest.mark.parametrize("line, day", [
    ("Posted: May 16, 2024 6:40 PM EDT", date(2024, 5, 16)),
    ("SEPTEMBER 16, 2013 11:12AM", date(2013, 9, 16)),  # printed in capitals
    ("7 : 15 a . m . Dec . 7 , 2009", date(2009, 12, 7)),  # tokenised
    ("Updated 09/14/2013 01:03 PM", date(2013, 9, 14)),  # only one order of the numbers is a date
    ("14.09.2013", date(2013, 9, 14)),
    ("Updated 11/03/2024", None),  # either of two days
    ("Published May 2024", None),  # no day
])
def test_the_day_a_date_stamp_writes_out(line, day):
    assert is_date_stamp(line)
    assert stamp_day(line) == day


@pytest.mark.parametrize("line, stamp", [
    ("Posted: May 16, 2024 6:40 PM EDT", True),
    ("Last updated 10:38 26/09/2013", True),
    ("9:41 p.m. EDT May 2, 2013", True),
    ("2024-05-16", True),
    ("Ferry returns on May 16, 2024", False),  # a headline with a date in it
    ("May 16", False),  # no year: a date a headline may be
    ("Reuters, May 16, 2024", False),  # a word outside the stamp's own
])
def test_what_counts_as_a_date_stamp(line, stamp):
    assert is_date_stamp(line) is stamp


def test_hard_wrapped_text_is_reflowed_into_paragraphs():
    wrapped = (
        "Council approves new cycle lanes\n\n"
        "The city council approved plans on Thursday for twelve kilometres of\n"
        "protected cycle lanes, after a debate that ran past midnight and drew\n"
        "a crowd of residents to the public gallery.\n\n"
        "Work on the first stretch, along the river road, is due to start in\n"
        "the autumn, the transport committee said in a statement.\n"
    )
    (article,) = normalize(RawArticle(id="w", body=wrapped, body_type="text", published_at=PUBLISHED))
    assert article.headline == "Council approves new cycle lanes"
    paragraphs = [article.text[p.start : p.end] for p in article.paragraphs]
    assert paragraphs == [
        "The city council approved plans on Thursday for twelve kilometres of protected cycle lanes, after a debate "
        "that ran past midnight and drew a crowd of residents to the public gallery.",
        "Work on the first stretch, along the river road, is due to start in the autumn, the transport committee "
        "said in a statement.",
    ]


def test_dates_word_count_language_and_fingerprint(stories):
    main, sidebar, related = stories
    assert [(d.text, d.value) for d in main.dates] == [
        ("yesterday", "2024-05-16"), ("in January", "2024-01"), ("since 2019", "2019")]
    assert [(d.text, d.value) for d in sidebar.dates] == [("on Wednesday", "2024-05-15")]
    assert [(d.text, d.value) for d in related.dates] == [("on Monday", "2024-05-13")]
    assert main.word_count == len(main.text.split()) - 1  # the dash of the dateline is not a word
    assert {s.language for s in stories} == {"en"}
    assert len({s.fingerprint for s in stories}) == 3


def test_same_input_gives_the_same_ids_and_another_input_other_ids(stories):
    again = normalize(RawArticle(id="page-1", body=PAGE, body_type="text", published_at=PUBLISHED))
    other = normalize(RawArticle(id="page-2", body=PAGE, body_type="text", published_at=PUBLISHED))
    assert [a.id for a in again] == [s.id for s in stories]
    assert not {a.id for a in other} & {s.id for s in stories}
    assert again == stories


def test_fingerprint_ignores_case_spacing_and_punctuation_only():
    assert fingerprint("Rain stops play. “Finally!”") == fingerprint("rain stops  play finally")
    assert fingerprint("Rain stops play.") != fingerprint("Rain stopped play.")


def test_a_paragraph_that_is_one_quoted_sentence_is_body_text_not_a_sidebar_headline():
    body = (
        "The dam's spillway was repaired a month ahead of the spring rains, the water authority said.\n\n"
        "“We did not lose a single working day to the weather.”\n\n"
        "Asked about the cost, the authority's engineer said the repairs had come in under the budget set in 2023.\n\n"
        "“Who will pay for the next repairs?”\n\n"
        "Farmers downstream said they had waited since 2019 for the repairs to the spillway and the sluice gates.\n\n"
        "Anglers say the river is back to normal\n"
        "The angling club said the water below the dam was clear again for the first time since the works began."
    )
    stories = normalize(RawArticle(id="q", body=body, body_type="text", published_at=PUBLISHED))
    # the quote stays in the main story; the short line without a stop over a paragraph opens the sidebar
    assert [(s.kind, s.headline) for s in stories] == [
        ("main", None), ("sidebar", "Anglers say the river is back to normal")
    ]
    assert "“We did not lose a single working day to the weather.”" in stories[0].text
    assert "“Who will pay for the next repairs?”" in stories[0].text


CROSSHEAD_PAGE = """\
Harbour Road baths to close

The town council voted on Tuesday to close the Harbour Road baths after engineers found cracks in the roof that would cost more than two million pounds to mend.

Councillor Maria Tennant, who chairs the leisure committee, said it had been the hardest vote of her twelve years on the council.

What happens next

Tennant said residents would be asked where a new pool should stand, with drop-in sessions at the library next month.

Clubs look for lanes

But the swimming clubs that trained at the baths say the university pool cannot give them the lane time they need.

Lifeguards offered other posts

Ms Tennant said the six lifeguards employed at the baths would be offered posts at the leisure centre on Mill Lane.

Volunteers clean up the beach
Volunteers from three schools cleared more than a tonne of litter from the beach below the harbour wall on Saturday.
"""


def test_a_crosshead_whose_section_reads_on_stays_in_the_story():
    main, *boxes = normalize(RawArticle(id="x", body=CROSSHEAD_PAGE, body_type="text", published_at=PUBLISHED))
    # Each section goes on with the story: a surname alone for a person named in full above ("Tennant said",
    # "Ms Tennant"), or a linking word ("But"). The crossheads stay in the text, as an HTML page's <h2> does.
    assert main.headline == "Harbour Road baths to close"
    paragraphs = main.text.split("\n\n")
    assert paragraphs[2:4] == ["What happens next", paragraphs[3]] and paragraphs[3].startswith("Tennant said")
    assert "Clubs look for lanes" in paragraphs and "Lifeguards offered other posts" in paragraphs
    # The last box opens a story of its own: it names nobody from above and opens with no linking word.
    assert [(box.kind, box.headline) for box in boxes] == [("sidebar", "Volunteers clean up the beach")]


def test_a_section_that_names_its_people_in_full_opens_a_box():
    above = "Councillor Maria Tennant said the Harbour Road baths would close after engineers found cracks in the roof."
    for section in (
        "Councillor Maria Tennant also chairs the committee that will choose where a new pool should stand.",
        "Tennant Street will be closed to traffic while the roof of the baths is taken down next month.",
    ):
        body = f"Baths to close\n\n{above}\n\nThe road will close\n\n{section}"
        stories = normalize(RawArticle(id="x", body=body, body_type="text", published_at=PUBLISHED))
        assert [(s.kind, s.headline) for s in stories] == [
            ("main", "Baths to close"), ("sidebar", "The road will close")
        ]


def test_producer_title_becomes_the_headline_and_is_not_repeated():
    raw = RawArticle(id="t", title="Bridge reopens", body="Bridge reopens\nThe bridge reopened to traffic on Friday.",
                     body_type="text", published_at=PUBLISHED)
    (article,) = normalize(raw)
    assert article.headline == "Bridge reopens"
    assert article.text == "The bridge reopened to traffic on Friday."


def test_without_publication_time_the_article_says_so():
    (article,) = normalize(RawArticle(id="u", body="Talks ended yesterday without a deal.", body_type="text"))
    assert article.published_at is None and article.date_anchor is None
    assert article.dates[0].value is None and article.dates[0].relative
    assert article.notices == ({"stage": "dates", "reason": "no publication time: relative dates are left unresolved"},)


@pytest.mark.parametrize("body", ["Advertisement\n\nShare this article\n", "https://news.example/2024/05/17/a\n"])
def test_a_body_of_only_page_furniture_or_an_address_is_rejected_as_empty(body):
    with pytest.raises(InputRejected) as caught:
        normalize(RawArticle(id="f", body=body, body_type="text"))
    assert caught.value.code is RejectCode.EMPTY_BODY


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("Le gouvernement a annoncé hier une nouvelle réforme des retraites, critiquée par les syndicats.", "fr"),
        ("Die Regierung hat gestern eine neue Rentenreform angekündigt, die von den Gewerkschaften kritisiert wird.",
         "de"),
        ("El gobierno anunció ayer una nueva reforma de las pensiones, criticada por los sindicatos del país.", "es"),
    ],
)
def test_language_is_detected_offline(text, language):
    (article,) = normalize(RawArticle(id="l", body=text, body_type="text"))
    assert article.language == language


def test_sentences_respect_abbreviations_initials_and_quotes():
    text = ("Sen. Mary O. Hale met Dr. Ruiz at 9 a.m. on Monday. “It went well,” she said! "
            "Was it enough? The U.S. envoy left.")
    assert [text[a:b] for a, b in split_sentences(text)] == [
        "Sen. Mary O. Hale met Dr. Ruiz at 9 a.m. on Monday.",
        "“It went well,” she said!",
        "Was it enough?",
        "The U.S. envoy left.",
    ]


def test_cjk_sentences_split_on_full_stops():
    text = "会談は東京で行われた。両国は停戦で合意した。"
    assert [text[a:b] for a, b in split_sentences(text)] == ["会談は東京で行われた。", "両国は停戦で合意した。"]


def test_html_pages_yield_their_main_story_and_boxed_stories():
    html = """<html><head><title>Library reopens | Town Crier</title>
    <meta property="og:title" content="Library reopens after flood">
    <meta name="author" content="Priya Nair">
    <meta property="article:published_time" content="2024-05-17T06:30:00+02:00">
    <script>window.track = function () { return "do not index"; };</script><style>p { color: red }</style></head>
    <body><nav><a href="/">Home</a> <a href="/news">News</a></nav>
    <article><h1>Library reopens after flood</h1>
    <p>The town library reopened on Thursday, eight months after a flood soaked its ground floor and ruined
    thousands of books.</p>
    <p>Volunteers spent the winter drying and sorting what could be saved, the head librarian said.</p>
    <aside class="related-box"><h3>Related</h3><h4>Flood insurance claims rise</h4>
    <p>Insurers said claims from the spring floods were the highest they had recorded in a decade.</p></aside>
    </article><footer>© 2024 Town Crier</footer></body></html>"""
    main, related = normalize(RawArticle(id="h", body=html, body_type="html"), NormalizeConfig())
    assert main.headline == "Library reopens after flood"
    assert main.byline == "Priya Nair"
    assert main.published_at == datetime(2024, 5, 17, 4, 30, tzinfo=timezone.utc)
    assert main.text.startswith("The town library reopened on Thursday, eight months after a flood")
    assert "do not index" not in main.text and "Home" not in main.text and "©" not in main.text
    assert "Insurers" not in main.text
    assert [(d.text, d.value) for d in main.dates] == [("on Thursday", "2024-05-16")]
    assert (related.kind, related.headline, related.parent_id) == ("related", "Flood insurance claims rise", main.id)
    assert related.text.startswith("Insurers said claims")


def test_html_without_a_publication_date_in_its_markup_gets_none_not_a_guess():
    html = ("<html><body><article><p>Growers said on Wednesday that frost had damaged the blossom across the "
            "valley.</p></article><footer>© 2025 Valley Herald</footer></body></html>")
    (article,) = normalize(RawArticle(id="nodate", body=html, body_type="html"))
    assert article.published_at is None and article.date_anchor is None
    assert article.dates[0].value is None


def test_html_over_the_nesting_or_element_limit_is_rejected():
    deep = "<html><body>" + "<div>" * 600 + "<p>Deep text that nobody can reach.</p>" + "</div>" * 600 + "</body></html>"
    wide = "<html><body>" + "<span>x</span>" * 5000 + "</body></html>"
    for html, config in ((deep, NormalizeConfig(max_html_depth=400)), (wide, NormalizeConfig(max_html_elements=1000))):
        with pytest.raises(InputRejected) as caught:
            normalize(RawArticle(id="x", body=html, body_type="html"), config)
        assert caught.value.code is RejectCode.HTML_TOO_COMPLEX
