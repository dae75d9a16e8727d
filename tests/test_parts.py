"""Questions that cite a numbered part ("Article 7", "sec. 4.2", "§ 22757.12"): answered from
the part itself, and "no answer" for a part the document does not have."""

from __future__ import annotations

from dataclasses import replace

from retrieval import answer_types
from retrieval.params import Params
from retrieval.part_index import PartIndex
from retrieval.parts import (
    cited_items,
    cited_parts,
    heading_parts,
    innermost_part,
    opened_sections,
)
from retrieval.types import Filters
from tests.conftest import needs_shared
from tests.test_quality import WIDGETS, indexed, shared_texts

SB53 = "us-ca-sb-53-transparency-in-frontier-ai-act-2025"
MISUSE_GUIDANCE = "nist-ai-800-1-ipd-managing-misuse-risk-dual-use-foundation-models-2024-07"


def test_a_question_cites_parts_as_users_write_them():
    assert cited_parts("what does art. 5 of the AIA ban?") == {("article", "5")}
    assert cited_parts("whats in annex iii") == {("annex", "iii")}
    assert cited_parts("summarise sec 4.2 and Section 4.5") == {
        ("section", "4.2"),
        ("section", "4.5"),
    }
    assert cited_parts("SB53 §22757.13 deadline") == {("section", "22757.13")}
    assert cited_parts("state of the art AI, in part I think") == frozenset()


def test_a_heading_names_its_parts_and_the_parts_that_hold_them():
    assert heading_parts("CHAPTER II › Article 5 › Prohibited AI practices") == {
        ("chapter", "ii"),
        ("article", "5"),
    }
    assert heading_parts("Part 2: Core › 5. AI RMF Core › 5.1 Govern") == {
        ("part", "2"),
        ("section", "5"),
        ("section", "5.1"),
    }
    assert heading_parts("Regulation on the safety of widgets") == frozenset()


def test_the_innermost_part_of_a_heading_is_shown_with_its_title():
    heading = "CHAPTER IX › SECTION 4 › Article 85 › Right to lodge a complaint"
    assert innermost_part(heading) == "Article 85 › Right to lodge a complaint"
    assert innermost_part("Executive Summary") == ""


def test_a_statute_paragraph_opens_its_code_section():
    text = "(j) the end of a definition.\n22757.12. (a) A developer shall publish.\n1107. For …"
    assert opened_sections(text) == [
        (("section", "22757.12"), text.index("22757.12")),
        (("section", "1107"), text.index("1107.")),
    ]
    assert opened_sections("1. Providers shall:\n(a) keep records.") == []


def _article(number: int, subject: str, body: str) -> str:
    return f"### Article {number}\n\n#### {subject}\n\n{body}\n"


# Article 9 is about Article 7 in words closer to the question than Article 7's own.
WIDGET_ACT = (
    '---\ntitle: Regulation on widgets\npublisher: "Example Union"\ndate: 2024-06-13\n---\n\n'
    "# Regulation on widgets\n\n## CHAPTER II\n\n"
    + _article(
        7,
        "Registration of widgets",
        "1. Before a widget is placed on the market, its maker shall enter it in the widget"
        " register kept by the Widget Office.\n\n2. The entry shall give the maker's name and"
        " address and the widget's intended purpose.",
    )
    + _article(
        9,
        "Review of Article 7",
        "1. By 2030 the Commission shall report on what Article 7 says and requires, and on"
        " whether the duties that Article 7 lays down should be extended.\n\n2. Article 7 shall"
        " be reviewed every four years.",
    )
)


def test_a_cited_article_is_quoted_from_its_own_text(tmp_path, real_embedder, monkeypatch):
    service = indexed(tmp_path, real_embedder, {"widgets.md": WIDGET_ACT})
    question = "what does article 7 of the widget regulation say and require?"
    answer = service.ask(question)
    assert "Article 7 › Registration of widgets" in answer.passages[0].heading
    assert answer.sentences[0].text.startswith("Before a widget is placed on the market")
    service.params = replace(Params(), cited_weight=0.0, opening_weight=0.0)
    assert "Article 9" in service.ask(question).passages[0].heading  # it says "Article 7" most


def test_a_code_section_is_quoted_from_where_its_paragraph_opens(shared_service, monkeypatch):
    question = "what does section 22757.12 of SB53 require?"
    answer = shared_service.ask(question)
    quote = answer.sentences[0]
    source = answer.passages[quote.source - 1]
    assert source.document.doc_id == SB53
    assert quote.text.startswith("(a) A large frontier developer shall write")
    assert quote.start >= source.text.index("22757.12. (a)")
    monkeypatch.setattr(shared_service, "params", replace(Params(), cited_weight=0.0))
    answer = shared_service.ask(question)  # quotes the text that cites it
    assert "22757.12. (a)" not in answer.passages[answer.sentences[0].source - 1].text


def test_a_part_the_named_document_lacks_means_no_answer(shared_service, monkeypatch):
    question = "what does section 22757.19 of SB 53 say about penalties?"
    answer = shared_service.ask(question)
    assert answer.abstained and "22757.19" in answer.reasons.decided_by
    answer = shared_service.ask("summarise section 4.9 of EO 14110")
    assert answer.abstained and answer.reasons.decided_by == "absent from the corpus: Section 4.9"
    monkeypatch.setattr(PartIndex, "absent_parts", lambda self, parts, doc_ids: [])
    assert not shared_service.ask("summarise section 4.9 of EO 14110").abstained


def test_which_section_is_answered_with_the_section_its_quote_lies_in(shared_service):
    answer = shared_service.ask(
        "which code section in SB53 sets the civil penalties for large frontier developers?"
    )
    part, quote = answer.sentences[:2]
    assert (part.kind, part.text) == ("part", "Section 22757.15")
    assert part.source == quote.source and "civil penalty" in quote.text


def test_which_article_is_answered_with_the_article_heading(tmp_path, real_embedder):
    service = indexed(tmp_path, real_embedder, {"widgets.md": WIDGETS})
    answer = service.ask("which article says what widget providers must do about copyright?")
    assert answer.sentences[0].kind == "part"
    assert answer.sentences[0].text == "Article 7 › Obligations for providers of widgets"
    assert not any(
        s.kind == "part" for s in service.ask("what must widget providers do?").sentences
    )


def test_a_cited_part_outside_the_filters_is_not_shown(shared_service):
    eo = "us-eo-14110-safe-secure-trustworthy-ai"
    answer = shared_service.ask("what does section 22757.12 require?", filters=Filters(doc_id=eo))
    assert {p.document.doc_id for p in (*answer.passages, *answer.more)} <= {eo}


@needs_shared
def test_which_appendix_is_answered_with_an_appendix(tmp_path, real_embedder, monkeypatch):
    service = indexed(tmp_path, real_embedder, shared_texts(f"{MISUSE_GUIDANCE}.md"))
    question = "which appendix lists the safeguards an organization can implement?"
    part = service.ask(question).sentences[0]
    assert part.kind == "part" and part.text.startswith("Appendix B. Example Safeguards")
    monkeypatch.setattr(answer_types, "SPELLED_KINDS", ())  # any numbered part answers
    assert not service.ask(question).sentences[0].text.startswith("Appendix")


# Practice 1.2's own line shares few words with the question; Practice 1.1's text repeats them.
GUIDANCE = (
    '---\ntitle: Managing widget misuse\npublisher: "Example Institute"\ndate: 2024-07-26\n---\n\n'
    "# Objective 1: Anticipate misuse\n\n"
    "Practice 1.1: Identify the ways in which widgets might be misused. Organizations should"
    " document how each threat profile is assessed, and assess each threat profile yearly.\n\n"
    "Practice 1.2: Estimate the harm done if an actor succeeds. Consider public safety.\n\n"
    "Within 90 days, organizations should publish a summary.\n"
)


def test_a_labelled_item_a_question_cites_is_quoted_from_its_own_line(tmp_path, real_embedder):
    service = indexed(tmp_path, real_embedder, {"guidance.md": GUIDANCE}, chunk_tokens=40)
    answer = service.ask("what does practice 1.2 say about assessing each threat profile?")
    assert answer.sentences[0].text.startswith("Practice 1.2: Estimate the harm")
    answer = service.ask("what does practice 9.9 of the widget guidance say?")
    assert answer.abstained and "9.9" in answer.reasons.decided_by
    assert cited_items("what is due within 90 days?", service.current().parts.opens_items) == set()
