"""Rendering without Discord: limits, escaping, bold highlights, cuts at sentence/word ends."""

from __future__ import annotations

import re

import discord
import pytest

from bot import admin_messages, answer_embeds
from bot import text as bot_text
from retrieval.types import AddResult, Answer, AnswerSentence, DocumentInfo, IndexReport, Passage

WORDS = re.compile(r"\S+")

DOC = DocumentInfo(
    doc_id="eu-ai-act-proposal",
    title="Proposal for an *Artificial Intelligence* Act",
    publisher="European Commission",
    jurisdiction="EU",
    date="2021-04-21",
    url="https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:52021PC0206",
    status="superseded by Regulation (EU) 2024/1689",
)

SENTENCE = "Systems that exploit the vulnerabilities of a specific group shall be prohibited."


def long_text(n: int = 60) -> str:
    """Many sentences with Markdown characters, around one answer sentence."""
    filler = [
        f"Recital {i} notes that __risk__ *management* applies to system_{i}." for i in range(n)
    ]
    return " ".join(filler[: n // 2] + [SENTENCE] + filler[n // 2 :])


def passage(text: str, *, highlight: str | None = SENTENCE, n: int = 0, doc=DOC) -> Passage:
    highlights = ()
    if highlight and highlight in text:
        start = text.index(highlight)
        highlights = ((start, start + len(highlight)),)
    return Passage(
        chunk_id=f"{doc.doc_id}#{n}",
        document=doc,
        heading="Article 5 › Prohibited practices",
        text=text,
        start=0,
        end=len(text),
        highlights=highlights,
        link=doc.url + "#:~:text=Systems%20that%20exploit",
    )


def assert_within_limits(embed: discord.Embed) -> None:
    assert len(embed.title or "") <= bot_text.TITLE_LIMIT
    assert len(embed.description or "") <= bot_text.DESCRIPTION_LIMIT
    assert len(embed.fields) <= bot_text.FIELDS_LIMIT
    for f in embed.fields:
        assert 0 < len(f.name) <= bot_text.FIELD_NAME_LIMIT
        assert 0 < len(f.value) <= bot_text.FIELD_VALUE_LIMIT
    assert len(embed.footer.text or "") <= bot_text.FOOTER_LIMIT
    assert len(embed) <= bot_text.EMBED_TOTAL_LIMIT


def assert_balanced(markdown: str) -> None:
    """Our own ** pairs are balanced once escaped characters are removed."""
    unescaped = re.sub(r"\\.", "", markdown)
    assert unescaped.count("**") % 2 == 0, markdown
    assert "*" not in unescaped.replace("**", ""), markdown
    assert "_" not in unescaped.split("](")[0], markdown


def test_escape_round_trip():
    text = r"a *b* __c__ ~~d~~ `e` |f| > g \h"
    assert bot_text.unescape(bot_text.escape(text)) == text
    assert "\\*b\\*" in bot_text.escape(text)


def test_fit_cuts_at_sentence_then_word_never_mid_word():
    text = "First sentence here. Second sentence is longer than the rest of it."
    assert bot_text.fit(text, 100) == text
    assert bot_text.fit(text, 30) == "First sentence here.…"
    cut = bot_text.fit("one two three four five six seven", 16)
    assert cut == "one two three…"
    assert bot_text.fit(text, 3) == "Fi…"  # only a word longer than the limit is ever cut
    for limit in range(len("First…"), 60):
        out = bot_text.fit(text, limit)
        assert len(out) <= limit
        words = WORDS.findall(out.rstrip("…"))
        assert all(w in text.split() for w in words), (limit, out)


def test_fit_escapes_before_measuring():
    out = bot_text.fit("*" * 30 + " tail", 40)
    assert len(out) <= 40
    assert not out.rstrip("…").endswith("\\")


@pytest.mark.parametrize("limit", [60, 120, 300, 1024])
def test_quote_keeps_highlight_bold_and_within_limit(limit):
    text = long_text()
    out = bot_text.fit_quote(text, passage(text).highlights, limit)
    assert len(out) <= limit
    assert out.startswith("…") and out.endswith("…")
    assert out.count("**") == 2
    bold = out.split("**")[1]
    assert SENTENCE.startswith(bold.rstrip("…")) or bold == SENTENCE
    assert_balanced(out)
    # never a cut inside a word of the source
    for word in WORDS.findall(bot_text.unescape(out.replace("**", "").replace("…", " "))):
        assert word in text.split(), word


def test_quote_adds_whole_sentences_around_the_answer():
    text = long_text(6)
    out = bot_text.fit_quote(text, passage(text).highlights, 400)
    plain = bot_text.unescape(out.replace("**", ""))
    assert SENTENCE in plain
    assert "Recital 2 notes" in plain and "Recital 3 notes" in plain  # one before, one after


def test_highlight_whitespace_stays_outside_bold():
    text = "Alpha beta.  Gamma delta.  Epsilon."
    start = text.index("  Gamma")
    out = bot_text.render_quote(text, [(start, start + len("  Gamma delta.  "))], 0, len(text))
    assert out == "Alpha beta. **Gamma delta.** Epsilon."


def test_source_field_has_title_meta_warning_quote_link():
    text = long_text()
    name, value = answer_embeds.source_field(1, passage(text))
    assert name == "[1] Proposal for an \\*Artificial Intelligence\\* Act"
    assert "European Commission · 2021-04-21 · EU" in value
    assert "⚠️ superseded by Regulation (EU) 2024/1689" in value
    assert "\n> …" in value and f"**{SENTENCE}**" in value
    assert "[Open the source](https://eur-lex.europa.eu/" in value
    assert len(value) <= 1024


def test_answer_embed_within_every_limit_with_huge_inputs():
    text = long_text(400)  # ≈ 27,000 characters of Markdown-heavy text
    doc = DocumentInfo(doc_id="d", title="T" * 400, publisher="P" * 300, url="https://x.org/")
    passages = tuple(passage(text, n=i, doc=doc) for i in range(30))
    answer = Answer(
        question="why? " * 300,
        sentences=tuple(AnswerSentence(SENTENCE * 20, i % 30 + 1) for i in range(10)),
        passages=passages,
        elapsed_ms=1234,
    )
    embed = answer_embeds.answer_embed(answer, jurisdiction="EU")
    assert_within_limits(embed)
    assert len(embed.fields) == 25
    assert embed.title.endswith("…")
    # the full question is kept (raw) in the footer so a click after a restart can re-ask it
    assert answer_embeds.question_from_embed(embed) == (answer.question.strip(), "EU")
    for f in embed.fields:
        assert_balanced(f.value.split("\n> ")[-1].split("\n[")[0])


def test_answer_embed_normal_case():
    text = long_text(8)
    answer = Answer(
        question="Which systems are *prohibited*?",
        sentences=(AnswerSentence(SENTENCE, 1),),
        passages=(passage(text, n=0), passage(text, n=1)),
        more=(passage(text, n=2),),
        elapsed_ms=87,
    )
    embed = answer_embeds.answer_embed(answer)
    assert_within_limits(embed)
    assert embed.title == "Which systems are \\*prohibited\\*?"
    assert embed.description == f"{SENTENCE} [1]"
    assert [f.name[:3] for f in embed.fields] == ["[1]", "[2]"]
    assert embed.footer.text.startswith("Jurisdiction: all · 0.1 s")
    assert answer_embeds.question_from_embed(embed) == ("Which systems are *prohibited*?", None)
    assert answer_embeds.cited_chunk_ids(answer) == ["eu-ai-act-proposal#0"]


def test_answer_body_keeps_whole_sentences():
    answer = Answer(
        "q", tuple(AnswerSentence(f"Sentence number {i} is here.", 1) for i in range(50)), ()
    )
    body = answer_embeds.answer_body(answer, 200)
    assert len(body) <= 200
    assert body.endswith(" …")
    assert all(part.endswith(" [1]") for part in body[:-2].split(". [1] ")[-1:])


def test_answer_body_labels_a_status_and_a_part_and_escapes_them():
    sentences = (
        AnswerSentence("revoked by *EO 14148*", 1, kind="status"),
        AnswerSentence("Article 5 › Prohibited practices", 1, kind="part"),
        AnswerSentence(SENTENCE, 1, 0, len(SENTENCE)),
    )
    body = answer_embeds.answer_body(Answer("q", sentences, (passage(long_text()),)), 1000)
    assert body.startswith("**Status:** revoked by \\*EO 14148\\* [1] In Article 5 › Prohibited")
    assert body.endswith(f"practices [1] {SENTENCE} [1]")


def test_abstention_says_so_and_names_nearest():
    nearest = (DOC, DocumentInfo(doc_id="other", title="Other [doc](x)", url=""))
    answer = Answer("Tax on bananas?", (), (), abstained=True, nearest=nearest)
    embed = answer_embeds.answer_embed(answer)
    assert_within_limits(embed)
    assert "do not support an answer" in embed.description
    assert (
        "[Proposal for an \\*Artificial Intelligence\\* Act](https://eur-lex" in embed.description
    )
    assert "⚠️ superseded" in embed.description
    assert "Other \\[doc](x)" in embed.description  # no masked link from a title
    assert not embed.fields
    assert answer_embeds.source_options(answer.passages) == []


def test_link_labels_escape_brackets():
    doc = DocumentInfo(doc_id="d", title="Annex [III] of *it*", url="https://x.org/a_(b)")
    embed = answer_embeds.answer_embed(Answer("q", (), (), abstained=True, nearest=(doc,)))
    assert "• [Annex \\[III\\] of \\*it\\*](https://x.org/a_%28b%29)" in embed.description


def test_abstention_without_nearest():
    embed = answer_embeds.answer_embed(Answer("q", (), (), abstained=True))
    assert "No indexed document is close to it." in embed.description


def test_full_passage_and_more_sources_embeds():
    text = "Para one *x*.\n\nPara two " + SENTENCE
    p = passage(text)
    embed = answer_embeds.full_passage_embed(p, 3)
    assert_within_limits(embed)
    assert embed.title.startswith("[3] ")
    assert "Para one \\*x\\*.\n\nPara two **" in embed.description
    huge = answer_embeds.full_passage_embed(passage(long_text(400)), 1)
    assert_within_limits(huge)
    more = answer_embeds.passages_embed("More sources", [p] * 30, first=3)
    assert_within_limits(more)
    assert more.fields[0].name.startswith("[3] ")


def test_select_options_fit():
    long_doc = DocumentInfo(doc_id="x" * 150, title="A" * 300)
    options = answer_embeds.source_options([passage("t", doc=long_doc), passage("t")] * 20)
    assert len(options) == 25
    assert all(len(o.label) <= 100 and len(o.description) <= 100 for o in options)
    assert options[0].value == "#1"  # a chunk id too long for a value is referred to by number
    assert options[1].value == "eu-ai-act-proposal#0"


def test_documents_list_and_admin_messages():
    docs = [
        DocumentInfo(doc_id=f"doc-{i}", title=f"Doc _{i}_", chunks=3, added_by=f"discord:{i}:bob")
        for i in range(200)
    ]
    embed, full = admin_messages.documents_embed(docs)
    assert_within_limits(embed)
    assert full is not None and "doc-199" in full
    assert "added by <@0>" in embed.description
    small, none = admin_messages.documents_embed(
        docs[:2] + [DocumentInfo(doc_id="seed", title="Seed")]
    )
    assert none is None and "added by the corpus folder" in small.description
    added = admin_messages.added_message(AddResult(DOC, 12, 3.21))
    assert "**Proposal for an \\*Artificial Intelligence\\* Act**" in added
    assert "12 passages indexed in 3.2 s" in added and "⚠️" in added
    report = IndexReport(3, 40, 5, 1.5, True, ("a.pdf: unreadable",), "b1")
    assert (
        "Rebuilt the index: 3 documents, 40 passages (5 newly embedded)"
        in admin_messages.reindex_message(report)
    )
    assert admin_messages.removed_message(DOC).startswith("Removed **Proposal")


def test_thread_and_choice_names():
    assert len(bot_text.thread_name("why " * 100)) <= 100
    assert bot_text.thread_name("   ") == "PolicyBot answer"
    assert len(admin_messages.choice_name(DocumentInfo(doc_id="d", title="x " * 100))) <= 100
