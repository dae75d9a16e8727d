"""Questions about who signed a text, or when: answered from its signature block."""

from __future__ import annotations

import pytest

from retrieval import asking
from retrieval.heading_lines import heading_level
from retrieval.signatures import asks_signatories, signature_block, signature_spans
from tests.test_quality import indexed

# The closing provision talks about signing; the block after it names who signed and when.
ORDER = (
    "---\ntitle: Order on widget safety\npublisher: Example Government\ndate: 2024-03-05\n"
    "aliases: [WSO]\n---\n\n"
    "# Sec. 1. Purpose\n\nThis order sets rules for the safety of widgets sold to the public.\n\n"
    "# Sec. 2. Declarations\n\nA widget maker shall keep a declaration signed by the person who"
    " signed on behalf of the maker, with the name of each person who signed it.\n\n"
    "# Sec. 3. Entry into force\n\nThis order shall enter into force on the day after its"
    " publication in the official gazette of the government.\n\n"
    "Done at Springfield, 5 March 2024.\n\nFor the Government\n\nThe Minister\n\nA. B. SMITH\n"
)


@pytest.mark.parametrize(
    ("question", "asks"),
    [
        ("who signed the AI Act?", True),
        ("when was EO 14110 signed?", True),
        ("which countries are signatories?", True),
        ("who has signed up to the AI Pact?", False),
        ("who must sign the declaration of conformity?", False),
        ("what does the signed MOU do?", False),
    ],
)
def test_a_question_about_signatories_is_told_from_others(question, asks):
    assert asks_signatories(question) is asks


def test_a_block_is_the_short_lines_around_a_signatory_and_goes_on_in_the_next_passage():
    text = (
        "(c) This order is not intended to, and does not, create any right or benefit.\n\n"
        "Done at Brussels, 13 June 2024.\n\nFor the European Parliament\n\nThe President\n\n"
        "R. METSOLA\n\nFor the Council"
    )
    start, end = signature_block(text)
    assert text[start:end].startswith("Done at Brussels") and text[end:] == ""
    assert signature_block("The Commission shall report to the Board (the ‘Board’).") is None
    following = "The President\n\nM. MICHEL\n\n(1)   OJ C 517, 22.12.2021, p. 56."
    texts = [text, following]
    spans = signature_spans([0, 1], texts.__getitem__)
    assert following[slice(*spans[1])] == "The President\n\nM. MICHEL"
    # A block whose signatory's line opens a passage began in the passage before.
    texts = [
        "A long closing provision of this order, written as a sentence.\n\nThe Minister",
        "A. B. SMITH",
    ]
    spans = signature_spans([0, 1], texts.__getitem__)
    assert [texts[row][slice(*span)] for row, span in spans.items()] == [
        "The Minister",
        "A. B. SMITH",
    ]


def test_a_signatory_line_is_no_heading():
    assert heading_level("DONALD J. TRUMP", single_line_block=True) is None
    assert heading_level("Entry Into Force", single_line_block=True) is not None


def test_who_signed_is_answered_by_the_signature_block(tmp_path, real_embedder, monkeypatch):
    service = indexed(tmp_path, real_embedder, {"order.md": ORDER}, chunk_tokens=40)
    answer = " ".join(s.text for s in service.ask("who signed the WSO?").sentences)
    assert (
        answer == "Done at Springfield, 5 March 2024. For the Government The Minister A. B. SMITH"
    )
    when = service.ask("when was the WSO signed?")
    assert "5 March 2024" in when.sentences[0].text
    monkeypatch.setattr(asking, "asks_signatories", lambda question: False)
    answer = service.ask("who signed the WSO?")
    assert not any("SMITH" in s.text for s in answer.sentences)
