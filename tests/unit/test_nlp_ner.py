"""The entity stage on articles we write here: offsets slice the text exactly, shouting lines are truecased
for the model without moving offsets, long texts are chunked, non-English text is skipped with a notice, and
mentions of one person are grouped."""

from __future__ import annotations

import time

import pytest

from worker.nlp import EntityStage
from worker.nlp.entities import group_mentions, name_tokens
from worker.nlp.items import Mention
from worker.nlp.model import load_ner_model
from worker.nlp.gazetteer import load_gazetteer
from worker.nlp.ner import chunk_spans, is_shouting, tag_texts, truecase
from worker.nlp.repair import repair_mentions
from worker.records import Article

STORY = (
    "Harbour talks resume in Lisbon\n"
    "Portuguese Prime Minister Helena Duarte met the mayor of Porto, Rui Carvalho, on Tuesday. "
    "Duarte said the Port Authority of Lisbon would publish its plan in May.\n"
    "Carvalho told reporters in Lisbon that the talks had gone well."
)


@pytest.fixture(scope="module")
def stage() -> EntityStage:
    return EntityStage(load_ner_model())


def article(text: str, language: str | None = "en", id_: str = "a") -> Article:
    return Article(id=id_, source_id=id_, text=text, language=language)


def test_truecase_keeps_length_and_only_changes_shouting_lines() -> None:
    text = "MARGARET OKONKWO WINS IN NAIROBI\nThe UN said Okonkwo won in Nairobi.\nGLASGOW 1997-04-02"
    cased = truecase(text)
    assert len(cased) == len(text)
    # "wins" is written nowhere else: a verb, lower-cased; a dateline's place stays a name though never repeated
    assert cased.split("\n") == [
        "Margaret Okonkwo wins in Nairobi", "The UN said Okonkwo won in Nairobi.", "Glasgow 1997-04-02"
    ]
    assert truecase("STRASSE ß") == "Strasse ß"  # ß would grow to SS when upper-cased: left as it was


def test_a_name_the_text_also_writes_in_lower_case_stays_a_name_in_a_shouting_line() -> None:
    # "brown" is a common word in the first sentence and a name in the second: written capitalised after
    # another word, it is a name, and the headline keeps it capitalised for the model
    text = "MINISTER BROWN VISITS GLASGOW\nThe fields had turned brown. Later Gordon Brown spoke in Glasgow."
    assert truecase(text).split("\n")[0] == "Minister Brown Visits Glasgow"
    assert truecase("MINISTER BROWN VISITS GLASGOW\nThe fields had turned brown.").startswith("Minister brown")


def test_shouting_needs_most_words_in_capitals() -> None:
    assert is_shouting("RESULTS OF ENGLISH LEAGUE MATCHES")
    assert not is_shouting("The IMF and the WTO said")
    assert not is_shouting("12 - 4 - 7")


def test_chunks_cover_the_text_in_order_within_the_limit() -> None:
    text = ("word " * 30 + "\n") * 50 + "x" * 700
    spans = chunk_spans(text, limit=500)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(0 < end - start <= 500 for start, end in spans)


def test_every_mention_slices_the_text_exactly(stage: EntityStage) -> None:
    [tagged] = stage([article(STORY)])
    assert tagged.entities
    for entity in tagged.entities:
        for mention in entity.mentions:
            assert tagged.text[mention.start : mention.end] == mention.text
    names = {e.name: e.type for e in tagged.entities}
    assert names.get("Helena Duarte") == "PERSON"
    assert names.get("Lisbon") == "GPE"


def test_a_surname_joins_the_full_name(stage: EntityStage) -> None:
    [tagged] = stage([article(STORY)])
    duarte = [e for e in tagged.entities if "duarte" in name_tokens(e.name)]
    assert len(duarte) == 1 and duarte[0].count == 2
    lisbon = [e for e in tagged.entities if e.name == "Lisbon"]
    assert len(lisbon) == 1 and lisbon[0].count >= 2


def test_shouting_headline_names_are_found(stage: EntityStage) -> None:
    text = "HELENA DUARTE VISITS PORTO\nPrime Minister Helena Duarte visited Porto on Friday."
    [tagged] = stage([article(text)])
    person = [e for e in tagged.entities if "duarte" in name_tokens(e.name)]
    assert len(person) == 1 and person[0].count == 2 and person[0].type == "PERSON"
    assert person[0].mentions[0].text == "HELENA DUARTE"


def test_who_the_headline_names_is_the_most_salient(stage: EntityStage) -> None:
    body = ("The city council of Porto met on Tuesday to vote on the harbour budget, and the mayor of Porto "
            "proposed a new ferry line. Later in the evening the ferry operator Rui Carvalho said he welcomed it.")
    salience = {}
    for headline in (None, "Carvalho welcomes new ferry line"):
        [tagged] = stage([Article(id="a", source_id="a", text=body, language="en", headline=headline)])
        salience[headline] = {e.name: e.salience for e in tagged.entities}
    # named late and once in the text, first in the headline
    assert salience[None]["Porto"] > salience[None]["Rui Carvalho"]
    assert salience["Carvalho welcomes new ferry line"]["Rui Carvalho"] == 1.0


def test_grouping_joins_transliteration_variants_and_a_later_full_name() -> None:
    text = "Hadi spoke. Later Abdrabbuh Mansour Hadi and Abdrabbuh al-Hadi met Mansour Hadi."
    mentions = [
        Mention(0, 3, "Hadi", "ORG"),
        Mention(18, 39, "Abdrabbuh Mansour Hadi", "PERSON"),
        Mention(44, 59, "Abdrabbuh al-Hadi", "PERSON"),
        Mention(64, 76, "Mansour Hadi", "PERSON"),
    ]
    groups = group_mentions(mentions)
    assert len(groups) == 1 and len(groups[0].mentions) == 4
    assert groups[0].name() == "Abdrabbuh Mansour Hadi"


def test_different_first_names_stay_apart() -> None:
    mentions = [Mention(0, 10, "Anna Berg", "PERSON"), Mention(20, 30, "Jonas Berg", "PERSON")]
    assert len(group_mentions(mentions)) == 2


def test_non_english_articles_are_skipped_with_a_notice(stage: EntityStage) -> None:
    spanish, english = stage([article("El presidente Pedro Ruiz visitó Sevilla.", "es", "s"), article(STORY, id_="e")])
    assert spanish.entities == ()
    assert spanish.notices[-1]["stage"] == "entities" and "es" in spanish.notices[-1]["reason"]
    assert english.entities


def test_a_very_long_article_is_chunked_and_offsets_stay_exact(stage: EntityStage) -> None:
    paragraph = "Mayor Rui Carvalho opened a bridge in Porto on Monday, officials said.\n"
    text = paragraph * (210_000 // len(paragraph) + 1)
    assert len(text) >= 200_000
    started = time.perf_counter()
    [tagged] = stage([article(text)])
    assert time.perf_counter() - started < 300  # bounded, not a benchmark
    mentions = [m for e in tagged.entities for m in e.mentions]
    assert max(m.start for m in mentions) > 190_000
    assert all(text[m.start : m.end] == m.text for m in mentions)


def test_thousands_of_capitalised_tokens_stay_bounded(stage: EntityStage) -> None:
    table = "\n".join(" ".join(f"TEAM{r}X{c} Qwerty" for c in range(8)) for r in range(800))
    started = time.perf_counter()
    [tagged] = stage([article(table)])
    assert time.perf_counter() - started < 300
    assert all(table[m.start : m.end] == m.text for e in tagged.entities for m in e.mentions)


class _RunTogether:
    """A fake model that reads each whole text as one PERSON: the run-together mentions the small model makes of
    table rows and results lines."""

    def pipe(self, texts, batch_size=16):
        for text in texts:
            yield _Doc([_Ent(0, len(text), "PERSON")])


class _Ent:
    def __init__(self, start_char, end_char, label_):
        self.start_char, self.end_char, self.label_ = start_char, end_char, label_


class _Doc:
    def __init__(self, ents):
        self.ents = ents


def test_run_together_mentions_are_cut_at_separators_and_lose_trailing_figures() -> None:
    text = "Tomas Lindqvist ( Sweden ) 63\nGreta Holm , Uppsala 4-28"
    [mentions] = tag_texts(_RunTogether(), [text])
    assert [m.text for m in mentions] == ["Tomas Lindqvist", "Sweden", "Greta Holm", "Uppsala"]
    assert all(text[m.start : m.end] == m.text for m in mentions)
    [kept] = tag_texts(_RunTogether(), ["Ridley Scott, Jr."])
    assert [m.text for m in kept] == ["Ridley Scott, Jr."]


def test_a_bare_nationality_or_people_is_norp_whatever_the_model_said() -> None:
    gazetteer = load_gazetteer()
    text = "Two Rwandans and an Iraqi met Chechens near Kigali; Iraqi Airways flew them."
    found = [
        Mention(4, 12, "Rwandans", "PERSON"),
        Mention(20, 25, "Iraqi", "ORG"),
        Mention(30, 38, "Chechens", "LOC"),
        Mention(44, 50, "Kigali", "GPE"),
        Mention(52, 65, "Iraqi Airways", "ORG"),
    ]
    labels = {m.text: m.label for m in repair_mentions(text, found, gazetteer).mentions}
    assert labels == {"Rwandans": "NORP", "Iraqi": "NORP", "Chechens": "NORP", "Kigali": "GPE", "Iraqi Airways": "ORG"}


def test_the_sides_of_results_lines_are_teams_in_every_mention() -> None:
    gazetteer = load_gazetteer()
    text = "Results of league matches:\nBoston 3 Denver 1\nOSAKA 2 Chile 2\nLeeds 0 Tamworth Rovers 4\nBoston fans cheered."
    # what the small model makes of such lines: sides run together, missed, or called places and people
    found = [
        Mention(27, 43, "Boston 3 Denver", "GPE"),
        Mention(45, 50, "OSAKA", "PERSON"),
        Mention(53, 58, "Chile", "GPE"),
        Mention(86, 92, "Boston", "GPE"),
    ]
    labels = sorted((m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions)
    assert labels == [
        ("Boston", "ORG"), ("Boston", "ORG"), ("Chile", "GPE"), ("Denver", "ORG"), ("Leeds", "ORG"),
        ("OSAKA", "ORG"), ("Tamworth Rovers", "ORG"),
    ]


def test_headline_words_the_body_writes_in_lower_case_are_lower_cased_for_the_model() -> None:
    text = "TENNIS - OKONKWO NAMED AS DAVIS CUP CAPTAIN\nMargaret Okonkwo was named captain of the Davis Cup team."
    cased = truecase(text)
    assert len(cased) == len(text)
    # "Tennis" opens the line; "Davis Cup" is never written in lower case; "named" and "captain" are
    assert cased.split("\n")[0] == "Tennis - Okonkwo named as Davis Cup captain"


@pytest.mark.parametrize("headline", ["OKAFOR LIFTS TITLE AS RIVALS FADE", "OKAFOR STORMS CLEAR TO RETAIN CROWN"])
def test_headline_words_written_nowhere_else_are_not_read_into_a_name(headline: str) -> None:
    stage = EntityStage(load_ner_model(), gazetteer=load_gazetteer())  # as build_pipeline builds it
    body = "Ada Okafor won the national 10,000 metres in Enugu on Sunday, pulling clear of Grace Bello on the last lap."
    text = f"{headline}\n{body}"
    # the headline's verbs and nouns, written nowhere else, are lower-cased for the model; the name it repeats is not
    assert truecase(text).split("\n")[0].startswith("Okafor ") and truecase(text).split("\n")[0][7:].islower()
    [tagged] = stage([article(text)])
    in_headline = [m.text for e in tagged.entities for m in e.mentions if m.start < len(headline)]
    assert in_headline == ["OKAFOR"]  # before: "OKAFOR LIFTS TITLE AS" and "RETAIN CROWN", organisations
    okafor = [e for e in tagged.entities if e.name == "Ada Okafor"]
    assert len(okafor) == 1 and okafor[0].type == "PERSON" and okafor[0].count == 2


def test_a_headline_section_label_is_not_a_name_but_a_place_there_is() -> None:
    gazetteer = load_gazetteer()
    text = "CRICKET - RAIN STOPS PLAY\nPORTUGAL - VOTE DELAYED"
    found = [Mention(0, 7, "CRICKET", "ORG"), Mention(26, 34, "PORTUGAL", "ORG")]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [("PORTUGAL", "GPE")]


def test_in_a_sports_report_a_town_acting_as_a_side_is_a_team_but_not_where_the_game_is() -> None:
    gazetteer = load_gazetteer()
    text = (
        "Brentwick beat Denver by two goals in the league match in Denver on Sunday.\n"
        "Denver coach Ana Lopes said her striker scored twice; the season resumes against Scotland."
    )
    found = sorted(
        [
            Mention(start, start + len(name), name, label)
            for name, label in (("Brentwick", "PERSON"), ("Denver", "GPE"), ("Ana Lopes", "PERSON"), ("Scotland", "GPE"))
            for start in range(len(text))
            if text.startswith(name, start)
        ],
        key=lambda m: m.start,
    )
    repaired = repair_mentions(text, found, gazetteer).mentions
    assert [(m.label, text[m.start - 3 : m.start]) for m in repaired if m.text == "Denver"] == [
        ("ORG", "at "),  # "beat Denver": a side
        ("GPE", "in "),  # "in Denver": where the match was
        ("ORG", "y.\n"),
    ]
    assert {m.text: m.label for m in repaired if m.text in ("Scotland", "Ana Lopes")} == {"Scotland": "GPE", "Ana Lopes": "PERSON"}


def test_an_acronym_defined_beside_a_name_takes_its_label_in_every_mention() -> None:
    gazetteer = load_gazetteer()
    text = "The Baltic Grain Traders Association (BGTA) met. Later BGTA said the WHO (World Health Organisation) had not."
    found = [Mention(4, 36, "Baltic Grain Traders Association", "ORG"), Mention(74, 100, "World Health Organisation", "ORG")]
    repaired = repair_mentions(text, found, gazetteer).mentions
    assert [(m.text, m.label) for m in repaired if m.text.isupper()] == [("BGTA", "ORG"), ("BGTA", "ORG"), ("WHO", "ORG")]


def test_names_written_as_people_are_people() -> None:
    gazetteer = load_gazetteer()
    text = (
        "1. Tomas Berg ( Sweden ) 3:31.674\n"
        "Scorer: Ana Lopes ( 75th )\n"
        "Bowling: R. Okafor 10-0-50-0\n"
        "American Dana Reyes won; two Rwandan Hutu groups met."
    )
    found = [
        Mention(text.index("Tomas Berg"), text.index("Tomas Berg") + 10, "Tomas Berg", "ORG"),
        Mention(text.index("Sweden"), text.index("Sweden") + 6, "Sweden", "GPE"),
        Mention(text.index("Okafor"), text.index("Okafor") + 6, "Okafor", "GPE"),
        Mention(text.index("American"), text.index("American") + 19, "American Dana Reyes", "PERSON"),
        Mention(text.index("Rwandan"), text.index("Rwandan") + 12, "Rwandan Hutu", "PERSON"),
    ]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [
        ("Tomas Berg", "PERSON"), ("Sweden", "GPE"), ("Ana Lopes", "PERSON"), ("R. Okafor", "PERSON"),
        ("American", "NORP"), ("Dana Reyes", "PERSON"), ("Rwandan Hutu", "NORP"),
    ]


def test_a_word_of_a_company_name_is_that_company_but_not_a_person_of_the_article() -> None:
    gazetteer = load_gazetteer()
    text = "Varnoc shares fell. Packaging maker Varnoc S.A. said Varnoc expects losses, Varnoc chief Ilse Norberg said."
    found = [
        Mention(0, 6, "Varnoc", "PERSON"),
        Mention(36, 48, "Varnoc S.A.", "ORG"),
        Mention(53, 59, "Varnoc", "PERSON"),
        Mention(77, 83, "Varnoc", "GPE"),
        Mention(90, 102, "Ilse Norberg", "PERSON"),
    ]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [("Varnoc", "ORG"), ("Varnoc S.A.", "ORG"), ("Varnoc", "ORG"), ("Varnoc", "ORG"), ("Ilse Norberg", "PERSON")]


def test_names_listed_with_a_side_are_sides() -> None:
    gazetteer = load_gazetteer()
    text = "Title rivals Denver, Tulsa and Bellshire all closed in on victory as the season ended; Tulsa beat Reno by six runs."
    found = [
        Mention(start, start + len(name), name, label)
        for name, label in (("Denver", "GPE"), ("Tulsa", "GPE"), ("Bellshire", "PERSON"), ("Reno", "GPE"))
        for start in range(len(text))
        if text.startswith(name, start)
    ]
    repaired = repair_mentions(text, sorted(found, key=lambda m: m.start), gazetteer).mentions
    assert {m.label for m in repaired} == {"ORG"} and len(repaired) == 5


def test_well_known_places_inside_a_capitalised_run_are_recovered() -> None:
    gazetteer = load_gazetteer()
    text = "SOCCER - FRANCE BEAT MEXICO IN FRIENDLY\nSOCCER - ROMANIA BEAT LITHUANIA IN FINAL"
    lithuania = Mention(text.index("LITHUANIA"), text.index("LITHUANIA") + 9, "LITHUANIA", "GPE")  # the model's
    labels = [(m.text, m.label) for m in repair_mentions(text, [lithuania], gazetteer).mentions]
    assert labels == [("FRANCE", "GPE"), ("MEXICO", "GPE"), ("ROMANIA", "GPE"), ("LITHUANIA", "GPE")]


def test_a_field_label_opening_a_line_is_not_a_name_but_a_speaker_is() -> None:
    gazetteer = load_gazetteer()
    text = "Spectators : 4,100\nMaria Lindgren spoke.\nLindgren : We will appeal ."
    found = [
        Mention(0, 10, "Spectators", "PERSON"),
        Mention(19, 33, "Maria Lindgren", "PERSON"),
        Mention(41, 49, "Lindgren", "PERSON"),
    ]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [("Maria Lindgren", "PERSON"), ("Lindgren", "PERSON")]


def test_the_players_of_a_cricket_scorecard_are_people() -> None:
    gazetteer = load_gazetteer()
    text = (
        "Tariq Baig c Pollard b Denholm 33\n"
        "Nadeem Qureshi lbw b Denholm 0\n"
        "K. Ambrose not out 12\n"
        "Bowling : Denholm 8-0-39-3 , Ravi Menon 6-1-30-1"
    )
    found = [Mention(text.index("Pollard"), text.index("Pollard") + 7, "Pollard", "ORG")]
    people = [m.text for m in repair_mentions(text, found, gazetteer).mentions if m.label == "PERSON"]
    assert people == ["Tariq Baig", "Pollard", "Denholm", "Nadeem Qureshi", "Denholm", "K. Ambrose", "Denholm", "Ravi Menon"]


def test_events_table_categories_and_column_headings_are_not_names() -> None:
    gazetteer = load_gazetteer()
    text = "Women 's discus\nShe won the Lisbon Open and the Davis Cup; Lisbon hosted it.\nW L PCT GB"
    found = [
        Mention(0, 5, "Women", "ORG"),
        Mention(text.index("W L"), len(text), "W L PCT GB", "ORG"),
        Mention(28, 39, "Lisbon Open", "LOC"),
        Mention(48, 57, "Davis Cup", "ORG"),
        Mention(59, 65, "Lisbon", "GPE"),
    ]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [("Lisbon", "GPE")]


def test_standings_rows_and_fixtures_name_teams_but_a_financial_row_does_not() -> None:
    gazetteer = load_gazetteer()
    text = (
        "Division two\n"
        "Tamworth Rovers 3 1 1 1 4 3 4\n"
        "Bellshire 2 1 0 1 2 2 3\n"
        "Postponed : Ashby v Denholm Athletic\n"
        "Revenue 12.4 13.1 14.2 15.0\n"
        "Ex-Tamworth striker Ana Lopes left for ex-England side duties."
    )
    labels = [(m.text, m.label) for m in repair_mentions(text, [], gazetteer).mentions]
    assert ("Revenue", "ORG") not in labels
    assert [t for t, label in labels if label == "ORG"][:4] == ["Tamworth Rovers", "Bellshire", "Ashby", "Denholm Athletic"]


def test_an_attached_prefix_is_not_part_of_the_name() -> None:
    [mentions] = tag_texts(_RunTogether(), ["ex-England"])
    assert [(m.start, m.text) for m in mentions] == [(3, "England")]


def test_names_the_text_calls_places_are_places_and_a_place_before_an_event_word_is_the_event() -> None:
    gazetteer = load_gazetteer()
    text = "Fighting reached the city of Qalvar and the disputed Brenna region before the Lisbon Open."
    found = [
        Mention(text.index("Qalvar"), text.index("Qalvar") + 6, "Qalvar", "ORG"),
        Mention(text.index("Brenna"), text.index("Brenna") + 6, "Brenna", "PERSON"),
        Mention(text.index("Lisbon"), text.index("Lisbon") + 6, "Lisbon", "GPE"),
    ]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [("Qalvar", "GPE"), ("Brenna", "GPE")]


def test_a_known_town_after_a_preposition_of_place_is_a_place_unless_a_person_of_the_article() -> None:
    gazetteer = load_gazetteer()
    text = "Talks opened in Cirencester. Ana Bristol spoke; supporters came from Bristol and from Qwertonia."
    found = [
        Mention(16, 27, "Cirencester", "PERSON"),
        Mention(29, 40, "Ana Bristol", "PERSON"),
        Mention(text.rindex("Bristol"), text.rindex("Bristol") + 7, "Bristol", "PERSON"),
        Mention(text.index("Qwertonia"), text.index("Qwertonia") + 9, "Qwertonia", "ORG"),
    ]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [("Cirencester", "GPE"), ("Ana Bristol", "PERSON"), ("Bristol", "PERSON"), ("Qwertonia", "ORG")]


def test_a_name_with_a_body_word_is_an_organisation_and_one_ending_in_a_venue_word_a_facility() -> None:
    gazetteer = load_gazetteer()
    text = "The Kestrel Chamber of Commerce met Ana Lopes at the Brenna Tennis Centre."
    found = [
        Mention(4, 30, "Kestrel Chamber of Commerce", "PERSON"),
        Mention(35, 44, "Ana Lopes", "PERSON"),
        Mention(52, 72, "Brenna Tennis Centre", "ORG"),
    ]
    labels = [(m.text, m.label) for m in repair_mentions(text, found, gazetteer).mentions]
    assert labels == [("Kestrel Chamber of Commerce", "ORG"), ("Ana Lopes", "PERSON"), ("Brenna Tennis Centre", "FAC")]


def test_the_sides_of_cricket_results_and_fixture_lists_are_teams_but_not_the_batsmen() -> None:
    gazetteer = load_gazetteer()
    text = (
        "Hove : Bellshire 363 ( R. Okafor 111 , Ana Lopes 70 ) , Tamworth 108-3\n"
        "Leeds : Ashby 238 and 133-5 , Denholm 471\n"
        "June 14-16 v Carrowmore ( three days )\n"
        "May 20 v Kilbride"
    )
    batsmen = [Mention(text.index(n), text.index(n) + len(n), n, "PERSON") for n in ("R. Okafor", "Ana Lopes")]
    repaired = repair_mentions(text, batsmen, gazetteer).mentions
    assert [m.text for m in repaired if m.label == "ORG"] == ["Bellshire", "Tamworth", "Ashby", "Denholm", "Carrowmore", "Kilbride"]
    assert [m.text for m in repaired if m.label == "PERSON"] == ["R. Okafor", "Ana Lopes"]


def test_initials_and_listed_first_names_join_the_surname_the_model_tagged() -> None:
    gazetteer = load_gazetteer()
    text = "Squad : Tariq Baig , Romesh Okafor , H. Morris\nYesterday Lopes said the squad was ready ."
    found = [
        Mention(text.index("Baig"), text.index("Baig") + 4, "Baig", "PERSON"),
        Mention(text.index("Okafor"), text.index("Okafor") + 6, "Okafor", "PERSON"),
        Mention(text.index("H. Morris"), text.index("H. Morris") + 9, "H. Morris", "ORG"),
        Mention(text.index("Lopes"), text.index("Lopes") + 5, "Lopes", "PERSON"),
    ]
    people = [m.text for m in repair_mentions(text, found, gazetteer).mentions if m.label == "PERSON"]
    assert people == ["Tariq Baig", "Romesh Okafor", "H. Morris", "Lopes"]  # not "Yesterday Lopes"


def test_untagged_streets_are_facilities_without_the_sentence_opener() -> None:
    gazetteer = load_gazetteer()
    text = "On Quill Street traders sold. The Street was calm; the street lamps of Harbour Square stayed lit."
    labels = [(m.text, m.label) for m in repair_mentions(text, [], gazetteer).mentions]
    assert labels == [("Quill Street", "FAC"), ("Harbour Square", "FAC")]


def test_a_name_after_a_sporting_role_is_a_person_and_its_surname_too() -> None:
    # the model reads the full name as an organisation and the surname alone as the US capital
    stage = EntityStage(load_ner_model(), gazetteer=load_gazetteer())  # as build_pipeline builds it
    text = "Wimbledon finalist DeMarcus Washington lost to a qualifier on Tuesday. Washington had led by two sets."
    [tagged] = stage([article(text)])
    people = [e for e in tagged.entities if e.type == "PERSON"]
    assert [(e.name, e.count, e.role) for e in people] == [("DeMarcus Washington", 2, "Wimbledon finalist")]
    assert not any(e.type in ("GPE", "LOC") for e in tagged.entities)
