"""Chunker properties: exact offsets, the token budget, sentence boundaries, heading paths."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.chunking import chunk_text
from retrieval.documents import load_path
from retrieval.errors import DocumentError
from retrieval.model_input import embedding_text, fit_to_model
from retrieval.sentences import cites_a_work, lists_contents, sentence_spans
from retrieval.token_budget import count_tokens
from tests.conftest import SHARED_CORPUS, needs_shared

words = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=12)
sentence = st.builds(
    lambda ws, end: " ".join(ws).capitalize() + end,
    st.lists(words, min_size=1, max_size=40),
    st.sampled_from([".", "?", "!", ";", ""]),
)
paragraph = st.builds(" ".join, st.lists(sentence, min_size=1, max_size=8))
heading = st.sampled_from(
    ["Article 7", "CHAPTER II", "# Scope", "2.1 Risk Tolerance", "Definitions"]
)
document = st.builds(
    "\n\n".join, st.lists(st.one_of(paragraph, paragraph, heading), min_size=1, max_size=12)
)


@settings(max_examples=60, deadline=None)
@given(text=document, budget=st.integers(min_value=8, max_value=120))
def test_offsets_map_back_and_budget_holds(text, budget):
    chunks = chunk_text(text, budget)
    previous_end = 0
    for chunk in chunks:
        piece = text[chunk.start : chunk.end]
        assert piece and piece == piece.strip()
        assert chunk.start >= previous_end  # in order, never overlapping
        assert count_tokens(piece) <= budget
        assert chunk.tokens == count_tokens(piece)
        previous_end = chunk.end


@settings(max_examples=40, deadline=None)
@given(text=paragraph, budget=st.integers(min_value=8, max_value=60))
def test_splits_at_sentence_ends_unless_a_sentence_is_too_long(text, budget):
    spans = sentence_spans(text)
    ends = {end for _, end in spans}
    too_long = any(count_tokens(text[s:e]) > budget for s, e in spans)
    for chunk in chunk_text(text, budget):
        assert chunk.end in ends or too_long


@pytest.mark.parametrize(
    "text",
    [
        "AI has the meaning set forth in 15 U.S.C. 9401(3). The order applies.",
        "See 42 U.S.C. 2000e et seq. for the duties. The order applies.",
        "Mr. J. Smith signed it. The order applies.",
    ],
)
def test_a_citation_goes_on_after_dotted_initials(text):
    assert [text[s:e] for s, e in sentence_spans(text)][1:] == ["The order applies."]


@pytest.mark.parametrize(
    "sentence, cites",
    [
        ("Shumailov, I. et al. (2023) The curse of recursion. arXiv.", True),
        ("42  Thiel, D., et al., (2023) Identifying and Eliminating CSAM in Generative ML.", True),
        ("For progress, see Maslej, N. et al., (2024) The AI Index 2024 Annual Report.", True),
        ("114 Emerging Processes for Frontier AI Safety, Department for Science, 2023.", True),
        ("1 EO 14110 defines Generative AI as “the class of AI models that emulate …”.", False),
        ("Raimondo, Donelan and others signed the MOU on 1 April 2024.", False),
        ("The AI Office shall, by 2 May 2025, encourage codes of practice.", False),
        ("In 2023, 28 countries attended the summit, Bletchley Park, 2023.", False),
        ("Risks. https://example.org/b\nNIST (2023) AI RMF Playbook. https://example.org/p", True),
        (
            "See [the plan](https://www.example.gov/plan) and [the order](https://example.gov/o).",
            False,
        ),
        ("More on the plan is at https://www.example.gov/plan.", False),
    ],
)
def test_a_citation_of_a_publication_is_told_from_text(sentence, cites):
    assert cites_a_work(sentence) is cites


@pytest.mark.parametrize(
    "sentence, contents",
    [
        ("KEY CHALLENGES IN MAPPING AND MEASURING MISUSE RISKS .................. 5", True),
        ("18 Appendix B. Example Safeguards . . . . . . . 21", True),
        ("Introduction…………… 3", True),
        ("The report is due... and the rest follows.", False),
        ("Appendix B: How AI Risks Differ from Traditional Software Risks 38", True),
        ("1.2.1 Risk Measurement 5\n1.2.2 Risk Tolerance 7", True),
        ("Heads of agencies shall report within\n30 days", False),
        ("The Secretary shall report on Part 2 by 30", False),
    ],
)
def test_a_table_of_contents_entry_is_told_from_text(sentence, contents):
    assert lists_contents(sentence) is contents


def test_every_word_of_the_body_is_in_some_chunk():
    text = "Article 5\n\nProhibited AI practices\n\n" + " ".join(
        f"Sentence {i} ends here." for i in range(200)
    )
    chunks = chunk_text(text, 50)
    covered = "".join(text[c.start : c.end] for c in chunks)
    assert covered.count("ends here.") == 200


def test_heading_path_follows_structure():
    text = (
        "CHAPTER II\n\nPROHIBITED AI PRACTICES\n\nArticle 5\n\nProhibited AI practices\n\n"
        "1. The following AI practices shall be prohibited: one, two.\n\n"
        "Article 6\n\nClassification rules\n\nA system is high-risk when listed."
    )
    headings = [c.heading for c in chunk_text(text, 100)]
    assert headings[0].endswith("Article 5 › Prohibited AI practices")
    assert headings[0].startswith("CHAPTER II")
    assert headings[-1].endswith("Article 6 › Classification rules")
    assert "Article 5" not in headings[-1]


def test_inline_numbered_sections_become_headings():
    text = (
        "4.8. Directing the Development of a National Security Memorandum. To develop a coordinated "
        "approach, the Assistant shall act.\n\n5.1. Attracting AI Talent. Agencies shall act."
    )
    headings = [c.heading for c in chunk_text(text, 30)]
    assert headings[0] == "4.8. Directing the Development of a National Security Memorandum"
    assert headings[-1] == "5.1. Attracting AI Talent"


def test_a_numbered_paragraph_that_opens_with_a_sentence_stays_under_its_section():
    text = (
        "Article 48\n\nCE marking\n\n1. The CE marking shall be subject to the general principles."
        " It applies to every system.\n\n3. The CE marking shall be affixed visibly, legibly and"
        " indelibly. Where that is not possible, it shall be affixed to the packaging."
    )
    assert {c.heading for c in chunk_text(text, 30)} == {"Article 48 › CE marking"}
    text = (
        "5.1.3 Tackling specific risks\n\n22. There are three broad categories of AI risk. Each is"
        " described below, with the work of the regulators on it.\n\n23. We will always respond"
        " firmly to any threats to the UK’s democracy. The Elections Act applies."
    )
    assert {c.heading for c in chunk_text(text, 30)} == {"5.1.3 Tackling specific risks"}


def test_the_wrapped_first_line_of_a_numbered_paragraph_is_no_heading():
    """A PDF breaks a numbered paragraph into lines: its first line holds a sentence end with
    more after it, stops on a word no title ends with, or is a full line the next goes on
    from; a title line does none of these."""
    text = (
        "5.2.1. The regulatory challenges of highly capable AI\n"
        "67. While highly capable narrow AI systems are in scope of the regulatory framework for\n"
        "AI, they raise new questions for regulators.\n"
        "68. The pace of AI development continues to accelerate. In the run up to the AI Safety\n"
        "Summit, we published a discussion paper.\n"
        "69. We welcome praise for the UK AI Standards Hub and CDEI. Launched in October\n"
        "2022, the Hub brings together experts.\n"
        "70. We will continue to act through bilateral partnerships and multilateral initiatives\n"
        "– including future AI Safety Summits – to promote safe AI."
    )
    assert {c.heading for c in chunk_text(text, 200)} == {
        "5.2.1. The regulatory challenges of highly capable AI"
    }
    question = "8. Is there an alternative statutory intervention that would work better?"
    assert [c.heading for c in chunk_text(f"{question}\n\nBody text here.", 200)] == [question]


def test_a_sentence_a_page_break_cut_in_two_is_one_sentence_in_one_chunk():
    text = (
        "Thresholds could use two proxies: compute (i.e. the\n\namount of compute used) and"
        " benchmarks. The next sentence.\n\nIt stands alone.\n\n(b) an item; or\n\n(c) another."
    )
    assert [text[s:e] for s, e in sentence_spans(text)] == [
        "Thresholds could use two proxies: compute (i.e. the\n\namount of compute used) and"
        " benchmarks.",
        "The next sentence.",
        "It stands alone.",
        "(b) an item; or",
        "(c) another.",
    ]
    before = " ".join(f"Filler sentence number {k} is here." for k in range(6))
    after = " ".join(f"Later sentence {k} goes on." for k in range(6))
    text = f"{before} Two proxies: compute (i.e. the\n\namount used) and benchmarks. {after}"
    ends = [text[: c.end] for c in chunk_text(text, 70)]  # the first paragraph alone fits
    assert not any(end.endswith("(i.e. the") for end in ends)
    assert any(end.endswith("benchmarks.") or end.endswith("is here.") for end in ends)


def _chunk_texts(text: str, budget: int) -> list[str]:
    return [text[c.start : c.end] for c in chunk_text(text, budget)]


def test_a_list_introduction_moves_to_the_chunk_of_its_first_item():
    intro = "Until the conditions are defined, reporting is required for:"
    text = (
        "(a) Companies shall report their training runs and the results of all red-team tests.\n\n"
        f"(b) The Secretary shall define the technical conditions. {intro}\n\n"
        "(i) any model trained using more than 10^26 operations; and\n\n"
        "(ii) any computing cluster with a capacity above 10^20 operations per second."
    )
    budget = count_tokens(text[: text.index("(i)")].strip())  # (a) and (b) fit; (i) does not
    with_item = next(t for t in _chunk_texts(text, budget) if "10^26" in t)
    assert intro in with_item
    assert "(a) Companies" not in with_item


def test_a_tiny_chunk_takes_the_leading_sentences_of_the_next_paragraph():
    intro = "Sec. 2. Objectives. Three objectives will guide these activities."
    item = "(a) First, the United States must lead the world in safe AI. " + " ".join(
        f"Supporting sentence number {i} adds detail." for i in range(30)
    )
    chunks = _chunk_texts(f"{intro}\n\n{item}", 60)
    assert chunks[0].startswith(intro)
    assert "lead the world" in chunks[0]
    assert all(count_tokens(c) <= 60 for c in chunks)


def test_a_run_of_short_lines_is_kept_as_text_not_taken_for_headings():
    text = (
        "Article 113\n\nThis Regulation shall apply from 2 August 2026.\n\n"
        "Done at Brussels, 13 June 2024.\n\nFor the European Parliament\n\nThe President\n\n"
        "R. METSOLA\n\nFor the Council\n\nThe President\n\nM. MICHEL"
    )
    body = " ".join(_chunk_texts(text, 160))
    for name in ("For the European Parliament", "R. METSOLA", "M. MICHEL"):
        assert name in body


def test_numbered_lines_after_a_list_introduction_are_its_items_not_headings():
    text = (
        "4. OBJECTIVES AND PRACTICES\nThis section outlines three objectives. These objectives "
        "are:\n1. Anticipate potential misuse risk\n2. Establish plans for managing misuse risk\n"
        "3. Manage the risks of model theft\n\nOrganizations should consider all three.\n\n"
        "5. NEXT SECTION\nIt starts here."
    )
    chunks = chunk_text(text, 160)
    with_items = next(c for c in chunks if "These objectives" in text[c.start : c.end])
    assert "3. Manage the risks of model theft" in text[with_items.start : with_items.end]
    assert with_items.heading == "4. OBJECTIVES AND PRACTICES"
    assert chunks[-1].heading == "5. NEXT SECTION"  # a numbered line after a blank line still heads


def test_an_appendix_labelled_by_a_letter_is_a_heading():
    text = (
        "4. PRACTICES\n\nAppendix A outlines a list of possible safeguards.\n\n"
        "Appendix B. Example Safeguards\nThe available safeguards continue to evolve."
    )
    assert [c.heading for c in chunk_text(text, 20)] == [
        "4. PRACTICES",
        "Appendix B. Example Safeguards",
    ]


def test_a_table_of_contents_entry_is_no_heading():
    text = (
        "Part 1: Foundational Information 4\nPart 2: Core and Profiles 20\n"
        "Appendix B: How AI Risks Differ from Traditional Software Risks 38\n\n"
        "Executive Summary\n\nArtificial intelligence technologies have significant potential."
    )
    assert chunk_text(text, 160)[-1].heading == "Executive Summary"


def test_a_reference_line_that_starts_like_a_part_is_no_heading():
    text = (
        "References\n\nJi, Z. et al (2023) Survey of Hallucination. ACM Comput. Surv. 55, 12,\n"
        "Article 248. https://doi.org/10.1145/3571730\nJones, S. (2022) How people react."
    )
    assert {c.heading for c in chunk_text(text, 160)} == {"References"}


def test_a_single_short_line_before_a_paragraph_is_still_a_heading():
    text = "Risk Tolerance\n\nThe framework does not prescribe risk tolerance."
    chunks = chunk_text(text, 160)
    assert [c.heading for c in chunks] == ["Risk Tolerance"]
    assert text[chunks[0].start : chunks[0].end].startswith("The framework")


@needs_shared
def test_no_chunk_of_the_real_corpus_exceeds_the_model_input(real_embedder):
    """Proved with the embedder's own tokenizer, over every document in ../shared/corpus."""
    longest = 0
    for path in sorted(SHARED_CORPUS.glob("*.md")):
        if path.name == "README.md":
            continue
        doc = load_path(path, 10_000_000)
        title = doc.meta["title"]
        chunks = chunk_text(doc.text, 160)
        fitted = fit_to_model(
            doc.text, title, chunks, real_embedder.count_tokens, real_embedder.max_tokens
        )
        for chunk in fitted:
            text = embedding_text(title, chunk.heading, doc.text[chunk.start : chunk.end])
            longest = max(longest, real_embedder.count_tokens(text))
    assert 0 < longest <= real_embedder.max_tokens


@needs_shared
def test_real_front_matter_parses():
    meta = yaml.safe_load(
        (SHARED_CORPUS / "techradar-us-uk-ai-safety-mou.md").read_text().split("---")[1]
    )
    assert meta["publisher"] == "TechRadar Pro"


def finishes_within(seconds: float, work: Callable[[], object]) -> object:
    """What ``work`` returns or raises; a failure, not a hang, when it takes longer."""
    outcome: list = []

    def run() -> None:
        try:
            outcome.append(work())
        except BaseException as err:  # noqa: BLE001 (handed back to the test)
            outcome.append(err)

    started = time.perf_counter()
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    assert time.perf_counter() - started < seconds
    return outcome[0]


def assert_pieces(text: str, chunks: list, budget: int) -> None:
    previous_end = 0
    for chunk in chunks:
        assert previous_end <= chunk.start < chunk.end <= len(text)
        assert text[previous_end : chunk.start].strip() == ""  # nothing skipped
        assert chunk.tokens <= budget or chunk.end - chunk.start == 1
        previous_end = chunk.end
    assert text[previous_end:].strip() == ""


def test_chunking_cost_is_linear_and_the_chunk_count_capped():
    """A 1 MB word took over 15 minutes (the rest of it was re-tokenised for every piece); a
    10 MB line took 80 s into 12,165 chunks; 200k tiny paragraphs made 2,500 chunks."""
    word = "a" * 1_000_000
    chunks = finishes_within(4, lambda: chunk_text(word, 160))
    assert_pieces(word, chunks, 160)
    assert len(chunks) < 1_000  # pieces use the budget: 1,280 a's are 160 tokens
    for text in ("word " * 200_000, "a\n\n" * 20_000, "Ab. " * 250_000):
        refused = finishes_within(2, lambda text=text: chunk_text(text, 160, max_chunks=100))
        assert isinstance(refused, DocumentError)
        assert str(refused) == (
            "the document makes more than 100 chunks, the limit per document "
            "(setting POLICYBOT_MAX_CHUNKS_PER_DOCUMENT)"
        )
    small = chunk_text("a\n\n" * 2_000, 160, max_chunks=1_000)
    with pytest.raises(DocumentError, match="more than 10 chunks"):
        fit_to_model("a\n\n" * 2_000, "T", small, count_tokens, 4, max_chunks=10)
    assert len(embedding_text("x" * 1_000_000, "Heading", "body")) < 300  # once per chunk
    # One character over the budget is a piece of its own; cutting it to nothing never ended.
    emoji = "\U0001d54f\U0001d54f \U0001d54f."
    assert count_tokens("\U0001d54f") > 1
    assert_pieces(emoji, finishes_within(5, lambda: chunk_text(emoji, 1)), 1)


def test_splitting_stops_where_it_cannot_help(real_embedder):
    """Headings whose context line alone fills the model input made every chunk under them
    split down to single characters: now each chunk is kept whole (the model cuts it)."""
    text = "".join(f"{'#' * level} {'!' * 85}\n\n" for level in range(1, 5))
    text += "The agency shall publish its guidance on model evaluations within ninety days."
    limit = real_embedder.max_tokens
    chunks = chunk_text(text, 160)
    context = embedding_text("Title", chunks[0].heading, "")
    assert real_embedder.count_tokens(context) > limit
    fitted = finishes_within(
        30, lambda: fit_to_model(text, "Title", chunks, real_embedder.count_tokens, limit)
    )
    assert fitted == chunks
