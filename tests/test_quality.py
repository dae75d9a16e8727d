"""End to end with the real model: answers that users rely on, over real documents."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from retrieval import abstention
from retrieval.absent_names import missing_names, missing_phrases
from retrieval.abstention import _matched, distinctive_names
from retrieval.answer_types import asks_about_document, question_form
from retrieval.config import Settings
from retrieval.lexical import LexicalIndex, terms
from retrieval.names import initialisms, names_of
from retrieval.params import Params
from retrieval.quotes import readable
from retrieval.service import Service
from retrieval.spelling import Spelling, spelled_apart
from retrieval.title_names import TitleNames
from tests.conftest import REPO, SHARED_CORPUS, SHARED_SUBSET, cut, needs_shared


def test_flagship_question_over_the_shipped_corpus(tmp_path, real_embedder):
    settings = Settings(data_dir=tmp_path / "data", corpus_dirs=[REPO / "corpus"])
    service = Service(settings, embedder=real_embedder)
    service.ensure_index()
    answer = service.ask("Who signed the US–UK AI MOU?")
    assert not answer.abstained
    assert "Raimondo" in answer.text and "Donelan" in answer.text
    first = answer.passages[answer.sentences[0].source - 1]
    assert first.document.doc_id == "techradar-us-uk-ai-safety-mou"
    assert first.document.publisher == "TechRadar Pro" and first.document.date == "2024-04-02"
    start, end = first.highlights[0]
    assert "Raimondo" in first.text[start:end]


@pytest.mark.parametrize(
    "question", ["What is the capital of Peru?", "How do I bake sourdough bread?"]
)
def test_unrelated_questions_abstain_and_name_nearest(tmp_path, real_embedder, question):
    settings = Settings(data_dir=tmp_path / "data", corpus_dirs=[REPO / "corpus"])
    service = Service(settings, embedder=real_embedder)
    service.ensure_index()
    answer = service.ask(question)
    assert answer.abstained and not answer.passages
    assert answer.nearest[0].doc_id == "techradar-us-uk-ai-safety-mou"


def test_status_question_is_answered_from_the_documents_status_with_its_warning(shared_service):
    answer = shared_service.ask("Is EO 14110 still in force?")
    assert not answer.abstained
    status = answer.sentences[0]
    assert status.kind == "status" and "revoked 2025-01-20 by Executive Order 14148" in status.text
    cited = answer.passages[status.source - 1].document
    assert cited.doc_id == "us-eo-14110-safe-secure-trustworthy-ai"
    assert cited.warning.startswith("revoked")
    in_force = shared_service.ask("Is EO 14179 still in force?")
    assert in_force.sentences[0].kind == "status" and "in force" in in_force.sentences[0].text
    assert not in_force.passages[0].document.warning  # in force: no warning


@pytest.mark.parametrize(
    ("question", "recorded"),
    [
        ("has EO 14110 been superseded so far?", "revoked 2025-01-20"),
        ("is SB 53 enacted law to date?", "Chapter 138"),
    ],
)
def test_a_status_question_is_answered_from_the_status_however_its_passages_match(
    shared_service, question, recorded
):
    """Asked "so far" or "to date", no passage says how things stand, but the named
    document's recorded status does: it answers, instead of a refusal."""
    answer = shared_service.ask(question)
    assert not answer.abstained
    assert answer.sentences[0].kind == "status" and recorded in answer.sentences[0].text


@pytest.mark.parametrize(
    ("question", "doc_id"),
    [
        ("what does SB53 say about whistleblowers?", "us-ca-sb-53-transparency-in-frontier-ai-act-2025"),
        ("which officials did E.O. 14179 put in charge of drafting the AI action plan?", "us-eo-14179-removing-barriers-ai"),
        ("what does M-24-10 require agencies to publish?", "us-fact-sheet-omb-m-24-10-2024-03-28"),
        # By its publisher's word and its kind: the one executive order Biden's White House holds.
        ("how does the biden EO define AI red-teaming?", "us-eo-14110-safe-secure-trustworthy-ai"),
    ],
)  # fmt: skip
def test_a_question_naming_an_instrument_is_answered_from_it(shared_service, question, doc_id):
    answer = shared_service.ask(question)
    assert not answer.abstained
    assert answer.reasons.named == (doc_id,)
    assert answer.passages[0].document.doc_id == doc_id


def test_a_cross_document_question_shows_each_named_document(shared_service):
    answer = shared_service.ask("which threshold do both EO 14110 and SB 53 use?")
    shown = {p.document.doc_id for p in answer.passages}
    assert {"us-eo-14110-safe-secure-trustworthy-ai", SB53} <= shown
    # The answer quotes each of them, and no third document.
    quoted = {answer.passages[s.source - 1].document.doc_id for s in answer.sentences}
    assert quoted == {"us-eo-14110-safe-secure-trustworthy-ai", SB53}


SB53 = "us-ca-sb-53-transparency-in-frontier-ai-act-2025"


def test_a_key_name_the_corpus_lacks_means_no_answer(shared_service):
    answer = shared_service.ask("What does the Seoul Declaration commit countries to?")
    assert answer.abstained and "Seoul" in answer.reasons.decided_by
    assert answer.more  # the closest passages are offered, as such
    known = shared_service.ask("What does the Bletchley Declaration commit countries to?")
    assert not known.abstained
    assert known.passages[0].document.doc_id == "uk-bletchley-declaration-2023-11-01"
    # A publisher named only in a document's metadata is no name the corpus lacks.
    cited = shared_service.ask(
        "According to TechRadar Pro, how many countries attended the summit?"
    )
    assert not cited.abstained


def test_an_owner_the_corpus_lacks_means_no_answer_however_it_is_written(shared_service):
    """A possessive names its owner (a person, a place, a body) even in lower case; a shortened
    corpus word ("govt's" of "government") or one after a determiner ("my landlord's") is no
    name."""
    answer = shared_service.ask("when does illinois' law on AI in hiring take effect?")
    assert answer.abstained and "illinois'" in answer.reasons.decided_by
    answer = shared_service.ask("what did matt clifford's plan recommend for AI safety?")
    assert answer.abstained and "clifford's" in answer.reasons.decided_by
    assert not shared_service.ask("what is the uk govt's role in the AI safety MOU?").abstained
    # After a determiner a possessive is a common noun, not a name: "my landlord's".
    landlord = shared_service.ask("can my landlord's screening software be a high-risk AI model?")
    assert "landlord" not in (landlord.reasons.decided_by if landlord.reasons else "")


def test_an_owner_no_best_passage_s_document_mentions_means_no_answer(shared_service, monkeypatch):
    """An owner the corpus writes as a name ("China" in two documents) must be mentioned in a
    document of the best passages: one about labelling rules elsewhere does not answer for
    China's. A common noun the corpus writes in lower case ("labs'") is no such owner."""
    question = "what do china's rules say about labeling synthetic content and watermarks?"
    answer = shared_service.ask(question)
    assert answer.abstained and "china" in answer.reasons.decided_by
    assert not shared_service.ask("What did Raimondo's agreement with the UK set up?").abstained
    labs = "if frontier labs' safety incidents could kill people, how fast must they report?"
    assert not shared_service.ask(labs).abstained
    monkeypatch.setattr(abstention, "named_owners", lambda question, snapshot: [])
    assert not shared_service.ask(question).abstained


# The red-teaming passage names no company; the document names them in its opening.
COMMITMENTS = (
    "---\ntitle: Widget safety commitments\npublisher: Example Office\ndate: 2024-01-02\n---\n\n"
    "# Who committed\n\nGlobex, Initech and Umbrella made these commitments to the Office.\n\n"
    + "".join(
        f"# Commitment {n}\n\nThe companies commit to {text}.\n\n"
        for n, text in enumerate(
            [
                "internal and external red-teaming of their widgets before any release",
                "sharing information on widget risks with governments and with each other",
                "investing in cybersecurity and insider threat safeguards for widget designs",
                "reporting the capabilities, limitations and areas of use of their widgets",
                "research on the societal risks that widgets may pose, such as bias",
                "mechanisms that let users know when content was made by a widget",
                "third-party discovery and reporting of vulnerabilities in their widgets",
                "deploying widgets to help address society's greatest challenges",
                "publishing a yearly report on the progress of these commitments",
                "training their staff in the safe handling of widget designs",
            ],
            1,
        )
    )
)


# Hooli is named in the corpus (in under a tenth of its passages), in another document only.
CAFETERIA = (
    "---\ntitle: Cafeteria menu\npublisher: Example Cafe\ndate: 2024-01-03\n---\n\n"
    "Hooli's cafeteria serves soup on Mondays and sandwiches on Fridays.\n"
)


def test_an_owner_named_elsewhere_in_a_best_passage_s_document_is_answered(tmp_path, real_embedder):
    texts = {"commitments.md": COMMITMENTS, "cafeteria.md": CAFETERIA}
    service = indexed(tmp_path, real_embedder, texts, chunk_tokens=40)
    service.params = replace(service.params, owner_rows=1)  # the red-teaming passage alone
    answer = service.ask("What does Globex's commitment to red-teaming say?")
    assert not answer.abstained
    assert "red-teaming" in answer.sentences[0].text
    hooli = service.ask("What does Hooli's commitment to red-teaming say?")
    assert hooli.abstained and "Hooli" in hooli.reasons.decided_by


@needs_shared
def test_a_paraphrase_of_the_one_passage_far_ahead_of_the_rest_is_answered(tmp_path, real_embedder):
    """A question that shares almost no words with the passage it asks about has weak support,
    but that passage's cosine stands far ahead of every other's: it is answered from it."""
    text = (SHARED_CORPUS / "nist-ai-600-1-generative-ai-profile.md").read_text(encoding="utf-8")
    front = text[: text.index("---", 4) + 4]
    risks = text[text.index("2.1. CBRN Information") : text.rindex("3. Suggested Actions")]
    service = indexed(tmp_path, real_embedder, {"profile.md": front + "\n" + risks})
    question = "did a phony photo of a bombing ever rattle investors?"
    answer = service.ask(question)
    assert not answer.abstained and "stands out" in answer.reasons.decided_by
    assert answer.reasons.support < answer.reasons.needed
    assert "Pentagon blast" in answer.sentences[0].text
    service.params = replace(service.params, standout_lead=1.0)
    refused = service.ask(question)
    assert refused.abstained and "weak support" in refused.reasons.decided_by


def test_a_name_of_known_words_the_corpus_never_puts_together_means_no_answer(shared_service):
    # "security" and "institute" are both in the corpus, never within two words of each other.
    answer = shared_service.ask("What does the AI Security Institute test?")
    assert answer.abstained and "Security Institute" in answer.reasons.decided_by
    assert not shared_service.ask("What does the AI Safety Institute test?").abstained


def test_names_are_pairs_of_capitalised_words_held_apart():
    spelling = Spelling.of_texts(
        [
            "The AI Safety Institutes of the UK and US will test models.",
            "Liability rules apply to providers; Directive (EU) 2019/1937 protects whistleblowers.",
            "the Secretary of State for Science, Innovation and Technology",
            "British officials met former Prime Minister Theresa May.",
        ],
        names=["Hiroshima Process International Code of Conduct"],
    )
    assert missing_phrases("what does the EU's AI Liability Directive say?", spelling) == [
        "Liability Directive"
    ]
    # Near words name it, in either order and in either number; so do a document name's words.
    assert missing_phrases("What will the AI Safety Institute test?", spelling) == []
    assert missing_phrases("What did the UK Science Secretary say?", spelling) == []
    assert missing_phrases("What does the Hiroshima Code say?", spelling) == []
    # A word that qualifies a name the corpus knows is no part of a missing one.
    assert missing_phrases("Which former British Prime Minister was there?", spelling) == []
    # No names: a sentence's first word, a question in title case throughout, a word the corpus
    # lacks (the absent name itself, which missing_names reports).
    assert missing_phrases("Liability Directive: is there one?", spelling) == []
    assert missing_phrases("What Does The EU Liability Directive Say?", spelling) == []
    assert missing_phrases("what does the Colorado Liability Directive say?", spelling) == [
        "Liability Directive"
    ]
    assert missing_phrases("what do the Colorado Rules say?", spelling) == []


def test_a_compound_the_corpus_also_writes_apart_is_searched_both_ways():
    texts = ["A ‘deep fake’ means generated content.", "Label each deep fake.", "Deepfakes spread."]
    texts += ["Technological change is fast."] * 6 + ["New tech\nnological shifts."]
    spelling = Spelling.of_texts(texts)
    lexical = LexicalIndex.build([terms(t) for t in texts])
    assert spelled_apart("how does the AI Act define a deepfake?", spelling, lexical) == [
        "deep fake"
    ]
    assert spelled_apart("what technological risks?", spelling, lexical) == []


def test_a_product_code_is_a_name_the_leading_passages_must_hold(shared_service):
    snapshot = shared_service.current()
    question = "how many parameters does GPT-4 have, per the 10-year plan of 2025?"
    assert distinctive_names(question, snapshot) == ["GPT-4"]  # not the count, not the year
    # A passage rarely repeats its document's publisher: "Hansard" is in none of the
    # statement's passages, only in its metadata, and so in the passages' reach.
    hansard = [
        row
        for row, p in enumerate(snapshot.passages)
        if p.doc_id == "uk-hansard-ai-safety-research-uk-us-partnership-2024-04-16"
    ][:3]
    held = set().union(*(snapshot.context_terms(row) for row in hansard))
    assert _matched("Hansard", snapshot, hansard, held)
    assert not _matched("GPT-4", snapshot, hansard, held)


def test_an_amount_written_short_is_known_when_its_number_is():
    spelling = Spelling({"200", "million", "foundations", "philanthropy"})
    none = frozenset()
    assert missing_names("which foundations put up the $200M?", spelling, none, none) == []
    assert missing_names("who put up the $350M or the 2bn?", spelling, none, none) == [
        "350M",
        "2bn",
    ]


def test_a_question_for_an_amount_of_money_no_leading_passage_states_means_no_answer(
    shared_service,
):
    answer = shared_service.ask(
        "how much did it cost the UK government to host the Bletchley Park AI safety summit?"
    )
    assert answer.abstained and "amount of money" in answer.reasons.decided_by
    fine = shared_service.ask("how big can the fine be for a large frontier developer under SB 53?")
    assert not fine.abstained and "dollars" in fine.text


def test_a_question_for_how_things_stand_so_far_needs_a_passage_that_says_so(shared_service):
    """A document tells how things stood at its date, and says so ("to date", "so far"); what
    has happened since is not in the corpus."""
    answer = shared_service.ask("how many agencies have named a Chief AI Officer to date?")
    assert answer.abstained and "how things stand" in answer.reasons.decided_by
    fined = shared_service.ask("has any developer been fined under SB 53 yet?")
    assert fined.abstained and "how things stand" in fined.reasons.decided_by
    status = shared_service.ask("Is SB 53 law yet?")  # the recorded status says how it stands
    assert not status.abstained and status.sentences[0].kind == "status"
    assert not shared_service.ask(
        "Who must agencies designate to coordinate their use of AI?"
    ).abstained


def test_a_month_no_passage_mentions_means_no_answer(shared_service):
    # November 2023 is the declaration's date; May 2024 is in none of the passages found, nor
    # is any document of theirs dated then (the corpus holds the year: it is no absent name).
    later = shared_service.ask("What did countries agree at the AI Safety Summit in May 2024?")
    assert later.abstained and "May 2024" in later.reasons.decided_by
    for month in ("November 2023", "Nov. 2023", "nov 2023"):
        answer = shared_service.ask(f"What did countries agree at the AI Safety Summit in {month}?")
        assert not answer.abstained, month
    # A passage's own words date it too: "January 1, 2027" in SB 53, dated 2025.
    applies = shared_service.ask("what does SB 53 require starting jan 2027?")
    assert not applies.abstained
    # So does a document's recorded status: "replaced in April 2025 by OMB memoranda …".
    replaced = shared_service.ask("Was M-24-10 replaced in April 2025?")
    assert not replaced.abstained and replaced.sentences[0].kind == "status"


def test_a_misspelt_word_is_read_as_the_corpus_spells_it(shared_service):
    spelling = shared_service.current().spelling
    assert spelling.corrected("the Bletchly Declaraton") == "the bletchley declaration"
    assert spelling.correction("texas") is None  # two edits from "texts": not a typo of it
    # The corpus's words leave stopwords out; a stopword is still no typo ("would" of "world").
    assert Spelling({"world", "alter"}).corrected("what would happen after") == (
        "what would happen after"
    )
    assert Spelling({"world"}).corrected("the wrold") == "the world"
    # A misspelt name is not a name the corpus lacks: the question is answered.
    answer = shared_service.ask("What does the Bletchly Declaration say about frontier AI?")
    assert not answer.abstained
    assert any(p.document.doc_id.startswith("uk-bletchley") for p in answer.passages)


def indexed(tmp_path, embedder, texts: dict[str, str], **settings) -> Service:
    """A service over a corpus folder of these files (name → text), indexed."""
    corpus = tmp_path / "corpus"
    corpus.mkdir(parents=True)
    for name, text in texts.items():
        (corpus / name).write_text(text, encoding="utf-8")
    config = Settings(data_dir=tmp_path / "data", corpus_dirs=[corpus], **settings)
    service = Service(config, embedder=embedder)
    service.reindex()
    return service


def shared_texts(*names: str) -> dict[str, str]:
    return {name: (SHARED_CORPUS / name).read_text(encoding="utf-8") for name in names}


_NOTIFIED_BODIES = """---
title: Regulation on widget conformity
publisher: Widget Council
date: 2024-06-13
url: https://example.org/widgets
---
# Article 35 Notified bodies

Member States shall notify the Commission of the notified bodies they designate. The Commission
shall publish the list of notified bodies and shall ensure that the list is kept up to date.
Notified bodies shall be independent of the provider of a widget, in so far as the design of
the widget is concerned.
"""


def test_idioms_of_extent_and_currency_do_not_say_how_things_stand(tmp_path, real_embedder):
    """ "Kept up to date" and "in so far as" say nothing of how things stand when asked; a
    passage that does ("so far, …") answers a "so far" question."""
    question = "how many notified bodies have been designated under the widget regulation so far?"
    idioms = indexed(tmp_path / "idioms", real_embedder, {"widgets.md": _NOTIFIED_BODIES})
    answer = idioms.ask(question)
    assert answer.abstained and "how things stand" in answer.reasons.decided_by
    standing = (
        _NOTIFIED_BODIES + "\nSo far, Member States have designated twelve notified bodies.\n"
    )
    stated = indexed(tmp_path / "stated", real_embedder, {"widgets.md": standing})
    assert not stated.ask(question).abstained


@needs_shared
def test_front_matter_aliases_name_a_document(tmp_path, real_embedder):
    texts = shared_texts(
        "uk-bletchley-declaration-2023-11-01.md",
        "uk-hansard-ai-safety-research-uk-us-partnership-2024-04-16.md",
    )
    texts["uk-bletchley-declaration-2023-11-01.md"] = texts[
        "uk-bletchley-declaration-2023-11-01.md"
    ].replace("---\n", '---\naliases: ["Bletchley", "the Bletchley Declaration"]\n', 1)
    service = indexed(tmp_path, real_embedder, texts)
    answer = service.ask("what does bletchley say about the risks of frontier AI?")
    assert answer.reasons.named == ("uk-bletchley-declaration-2023-11-01",)
    assert answer.passages[0].document.doc_id == "uk-bletchley-declaration-2023-11-01"


@needs_shared
def test_a_name_in_a_documents_title_is_found_with_its_passages(tmp_path, real_embedder):
    """A passage rarely repeats its document's name: "UNGA" is in the statement's title only,
    as the initials of "UN General Assembly", so no higher bar of support applies."""
    service = indexed(
        tmp_path,
        real_embedder,
        shared_texts(
            "us-harris-statement-unga-ai-resolution-2024-03-21.md",
            "uk-bletchley-declaration-2023-11-01.md",
        ),
    )
    statement = service.current().documents["us-harris-statement-unga-ai-resolution-2024-03-21"]
    assert "UN General Assembly" in statement.title
    answer = service.ask(
        "what did harris's UNGA statement say the resolution commits countries to?"
    )
    assert answer.passages[0].document == statement
    assert answer.reasons.needed == Params().min_support


@needs_shared
def test_a_question_naming_a_document_by_its_title_words_is_answered_from_it(
    tmp_path, real_embedder
):
    """The G7 texts have no number, short title or alias to be named by. The other documents
    are there because how common a title's words are depends on the corpus: among the three G7
    texts alone, every word of their titles is in more than 2% of the sentences."""
    principles = "g7-hiroshima-process-international-guiding-principles-2023-10-30"
    texts = {name: cut(text) for name, text in shared_texts(*SHARED_SUBSET).items()}
    texts |= shared_texts(
        f"{principles}.md",
        "g7-hiroshima-process-international-code-of-conduct-2023-10-30.md",
        "g7-leaders-statement-hiroshima-ai-process.md",
    )
    service = indexed(tmp_path, real_embedder, texts)
    answer = service.ask("do the G7 guiding principles expect developers to watermark content?")
    assert answer.reasons.named == (principles,)
    assert answer.passages[0].document.doc_id == principles
    both = service.ask("do the bletchley declaration and the guiding principles agree on risks?")
    assert both.reasons.named == ("uk-bletchley-declaration-2023-11-01", principles)


def test_a_series_code_names_its_document_by_its_number_alone_too():
    names = names_of("nist-ai-600-1-generative-ai-profile", "Profile (NIST AI 600-1)", [], {})
    assert {"ai 600 1", "600 1"} <= names  # "the genAI profile (600-1)"
    assert "1 0" not in names_of("nist-rmf", "AI Risk Management Framework (AI RMF 1.0)", [], {})
    assert "24 10" not in names_of("omb-m-24-10", "Fact Sheet: OMB Memorandum M-24-10", [], {})


def test_title_words_name_the_one_document_whose_title_ends_the_phrase():
    titles = {
        "code": "Hiroshima Process International Code of Conduct for Organizations",
        "principles": "Hiroshima Process International Guiding Principles for Organizations",
        "statement": "G7 Leaders' Statement on the Hiroshima AI Process",
        "plan": "White House Unveils America's AI Action Plan",
        "order": "Executive Order of December 11, 2025: Ensuring a National Policy Framework",
        "older": "Executive Order 14179 of January 23, 2025: Removing Barriers",
    }
    publishers = {
        "code": "G7",
        "principles": "G7",
        "statement": "G7",
        "plan": "The White House",
        "order": "The White House (President Donald J. Trump)",
        "older": "The White House (President Donald J. Trump)",
        "biden": "The White House (President Joseph R. Biden Jr.)",
    }
    titles["biden"] = "Executive Order 14110 of October 30, 2023: Safe, Secure, and Trustworthy AI"
    titles["sheet"] = "Fact Sheet: Eliminating Barriers for Federal AI Use and Procurement"
    titles["omb sheet"] = "FACT SHEET: Vice President Harris Announces OMB Policy on AI"
    publishers["sheet"] = publishers["omb sheet"] = "The White House"
    dates = dict.fromkeys(titles, "2023-10-30") | {
        "order": "2025-12-11",
        "older": "2025-01-23",
        "sheet": "2025-04-07",
        "omb sheet": "2024-03-28",
    }
    common = {"ai", "action"}.__contains__
    names = TitleNames.build(titles, publishers, dates, common=common)
    assert names.named_in("what does the G7 Hiroshima code say?") == ["code"]
    assert names.named_in("the guiding principles and the code of conduct") == [
        "principles",
        "code",
    ]
    assert names.named_in("America's AI action plan") == ["plan"]
    assert names.named_in("does the dec 2025 EO preempt state laws?") == ["order"]
    assert names.named_in("what did the 2025 executive order do?") == []  # two of them
    # A month names the one of them dated then, and no other month's: "OMB" is the other
    # fact sheet's title word.
    assert names.named_in("what did the jan 2025 executive order do?") == ["older"]
    assert names.named_in("what did the april 2025 OMB fact sheet announce?") == ["sheet"]
    assert names.named_in("what did the OMB fact sheet announce?") == ["omb sheet"]
    assert names.named_in("what did the Hiroshima process agree?") == []  # three titles hold it
    assert names.named_in("what did the white house say?") == []  # the publisher's words
    assert names.named_in("what AI action is taken?") == []  # in one title, but common words
    assert names.named_in("hiroshima, code") == []  # a comma ends a name
    # The publisher's words count with the title's: one executive order is Biden's.
    assert names.named_in("did the biden EO make cloud firms report?") == ["biden"]
    assert names.named_in("what did trump's executive order do?") == []  # two are his
    assert names.named_in("what did biden say?") == []  # a publisher's word alone


def test_initials_of_the_names_a_text_spells_out():
    assert "omb" in initialisms("The Office of Management and Budget will issue guidance.")
    assert "unga" in initialisms("welcomed by the UN General Assembly today")
    assert "ag" in initialisms("the Attorney General shall") and "to" not in initialisms(
        "The Office"
    )


@needs_shared
def test_a_passage_that_goes_on_from_the_one_before_is_read_with_it(tmp_path, real_embedder):
    """The fact sheet's bullet on the draft guidance goes on in the next passage, which says
    where to comment but not what on: it counts the previous passage's words as its own."""
    service = indexed(
        tmp_path,
        real_embedder,
        shared_texts(
            "us-fact-sheet-harris-ai-initiatives-us-aisi-2023-11-01.md",
            "us-fact-sheet-omb-m-24-10-2024-03-28.md",
            "us-fact-sheet-voluntary-ai-commitments-2023-07-21.md",
        ),
    )
    snapshot = service.current()
    row = next(r for r, p in enumerate(snapshot.passages) if "ai.gov/input" in p.text)
    guidance = snapshot.term_ids("guidance")[0]
    assert guidance not in snapshot.analysis.passage_terms.of(row)
    assert guidance in snapshot.context_terms(row)
    opening = next(
        r
        for r, p in enumerate(snapshot.passages)
        if r and p.doc_id != snapshot.passages[r - 1].doc_id
    )
    assert snapshot.context_terms(opening) == snapshot.analysis.passage_terms.of(opening)
    answer = service.ask(
        "what website should people use to comment on the first draft guidance on federal AI use?"
    )
    assert any("ai.gov/input" in p.text for p in answer.passages[:2])


WIDGETS = """---
title: "Regulation on the safety of widgets"
publisher: "Example Union"
date: 2024-06-13
---

# Regulation on the safety of widgets

Whereas:

(12) Providers of widgets should keep technical documentation up to date, put in place a policy
to comply with copyright law, and make publicly available a sufficiently detailed summary about
the content used for training the widget.

(13) Widget deployers should inform the persons concerned that they are exposed to a widget, in
particular where the widget takes decisions about them.

## CHAPTER II

### Article 7

#### Obligations for providers of widgets

1. Providers of widgets shall:

(a) draw up and keep up-to-date the technical documentation of the widget, including its
training and testing process and the results of its evaluation;

(b) put in place a policy to comply with Union law on copyright and related rights;

(c) draw up and make publicly available a sufficiently detailed summary about the content used
for training of the widget.

### Article 8

#### Obligations of deployers of widgets

1. Deployers of widgets shall inform the natural persons concerned that they are subject to the
use of a widget.
"""


def test_which_article_is_answered_by_the_article_not_the_recital(tmp_path, real_embedder):
    service = indexed(tmp_path, real_embedder, {"widgets.md": WIDGETS})
    question = (
        "which article says what widget providers must do (technical documentation, copyright"
        " policy, training summary)?"
    )
    answer = service.ask(question)
    assert answer.passages[0].heading.endswith("Article 7 › Obligations for providers of widgets")
    service.params = replace(Params(), part_weight=0.0)  # the recital paraphrases it closer
    assert service.ask(question).passages[0].heading == "Regulation on the safety of widgets"


@needs_shared
def test_a_sentence_that_only_repeats_its_title_is_never_the_answer(tmp_path, real_embedder):
    """The principles' text opens with its own title line, which is nearest to any question
    that names the document."""
    service = indexed(
        tmp_path,
        real_embedder,
        shared_texts(
            "g7-hiroshima-process-international-guiding-principles-2023-10-30.md",
            "g7-leaders-statement-hiroshima-ai-process.md",
        ),
    )
    answer = service.ask("who are the hiroshima guiding principles for?")
    assert answer.sentences
    titles = {readable(d.title).lower() for d in service.documents()}
    assert not any(s.text.lower().rstrip(".") in titles for s in answer.sentences)


def test_quotes_read_as_text_and_still_locate_their_words(shared_service):
    answer = shared_service.ask(
        "What is the first government-wide policy OMB issued to mitigate AI risks?"
    )
    quoted = [s for s in answer.sentences if s.kind == "quote"]
    assert quoted
    for sentence in quoted:
        raw = answer.passages[sentence.source - 1].text[sentence.start : sentence.end]
        assert sentence.text == readable(raw)
        assert not re.search(r"\]\(|\*\*|\n", sentence.text)
    linked = next(s for s in quoted if "](" in answer.passages[s.source - 1].text[s.start : s.end])
    assert "OMB’s first government-wide policy" in linked.text


def test_a_definition_question_is_answered_with_the_defining_sentence(shared_service):
    """The defining sentence says "means", not "define"."""
    answer = shared_service.ask("How does SB 53 define catastrophic risk?")
    assert "“Catastrophic risk” means a foreseeable and material risk" in answer.sentences[0].text


def test_a_definition_question_with_a_typo_is_still_answered_with_the_definition(shared_service):
    answer = shared_service.ask("whats the legal definiton of a critical safety incident in SB 53")
    assert "“Critical safety incident” means" in answer.sentences[0].text


def test_a_term_written_as_one_word_finds_the_definition_that_spells_it_apart():
    shape = question_form("how does the AI Act define deepfake?").shape
    assert shape.search("(60) ‘deep fake’ means AI-generated or manipulated image")
    assert shape.search("“Deep-fake” refers to")
    assert not shape.search("deep learning means")


def test_a_question_about_a_whole_document_is_answered_from_it(shared_service, monkeypatch):
    question = "tell me about EO 14179"
    answer = shared_service.ask(question)
    eo = "us-eo-14179-removing-barriers-ai"
    assert all(answer.passages[s.source - 1].document.doc_id == eo for s in answer.sentences)
    assert any("Purpose" in p.heading or "Policy" in p.heading for p in answer.passages[:3])
    monkeypatch.setattr("retrieval.asking.asks_about_document", lambda *args: False)
    plain = shared_service.ask(question)
    assert not any("Purpose" in p.heading or "Policy" in p.heading for p in plain.passages[:3])


def test_a_question_of_only_a_documents_names_and_summary_words_is_about_the_document():
    names = {"bletchley", "declar", "sb", "53"}
    assert asks_about_document("summarize the bletchley declaration pls", names)
    assert asks_about_document("whats SB 53?", names)
    assert not asks_about_document("what does the bletchley declaration say about risks?", names)
