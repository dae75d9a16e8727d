"""Composing answers: answer shapes, passage order, lists, and passages with nothing to say."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from retrieval import answer as answering
from retrieval.answer import _diversify
from retrieval.answer_types import asks_status, names_a_part, question_form
from retrieval.config import Settings
from retrieval.params import Params
from retrieval.sentences import introduces_list, marker_kind, starts_list_item
from retrieval.service import Service


@pytest.mark.parametrize(
    ("question", "answer", "other"),
    [
        ("When was the MOU signed?", "It was signed on 1 April 2024.", "It was signed."),
        (
            "what's the deadline to tell the regulators?",
            "Report it not later than 15 days after.",
            "Report any serious incident.",
        ),
        (
            "How does the AI RMF define risk?",
            "Risk refers to the composite measure of probability and magnitude.",
            "Risk tolerance refers to readiness to bear the risk.",
        ),
        (
            "How does the memorandum define a 'frontier AI model'?",
            "(e) The term “frontier AI model” means a general-purpose AI system.",
            "Frontier AI models shall be tested.",
        ),
        (
            "do the AI Act and the RMF define 'risk' the same way?",  # the quoted term only
            "(2) ‘risk’ means the combination of the probability of harm and its severity.",
            "Risk tolerance refers to readiness to bear the risk.",
        ),
        (
            "what does the act define as a provider, in short?",
            "(3) ‘provider’ means a natural or legal person.",
            "A provider shall draw up the documentation.",
        ),
        (
            "What is the definition of an AI system in the EU AI Act?",
            "(1) ‘AI system’ means a machine-based system.",
            "An AI system is placed on the market.",
        ),
        (
            "what did the UK mean by 'frontier AI' at the summit?",
            "For the Summit, the UK defined “frontier AI” as highly capable models.",
            "Frontier AI is a fast-moving field.",
        ),
        (
            "What is meant by foundation model?",
            "Foundation model: a model trained on broad data at scale.",
            "A foundation model: the term is used widely.",
        ),
        (
            "how many joint testing exercises did the AISIs commit to?",
            "Perform at least one joint testing exercise on a publicly accessible model.",
            "(2) The Institutes will share testing approaches.",
        ),
        (
            "where do i send comments on the draft?",
            "Comments may be sent electronically to NISTAI800-1@nist.gov by the deadline.",
            "Comments are welcome on every section of the draft.",
        ),
        (
            "where could people comment on the draft guidance?",
            "The public can comment at ai.gov/input until December 5.",
            "The public is invited to comment on the draft.",
        ),
        (  # the fine is an amount of money, not the article's number
            "whats the max fine if u break the art 5 prohibited practices?",
            "Non-compliance with Article 5 shall be subject to fines of up to EUR 35 000 000.",
            "Article 5 lists 8 prohibited practices.",
        ),
        (
            "how big can the civil penalty get under SB 53?",
            "A civil penalty that does not exceed one million dollars ($1,000,000) per violation.",
            "A penalty under Section 22757.15 is recovered by the Attorney General.",
        ),
        (
            "What percentage of the budget goes to research?",
            "A 10% share is set aside, or $5 in every $50.",
            "The budget is set out in section (b) of the order.",
        ),
    ],
)
def test_answer_shape_matches_the_answer_and_not_a_near_miss(question, answer, other):
    shape = question_form(question).shape
    assert shape is not None
    assert shape.search(answer)
    assert not shape.search(other)


@pytest.mark.parametrize(
    "question", ["Who signed the MOU?", "What does the Bletchley Declaration say about risks?"]
)
def test_questions_without_an_answer_shape(question):
    assert question_form(question).shape is None


@pytest.mark.parametrize(
    ("question", "wants_part"),
    [
        ("which article of the EU AI Act has the list of banned AI practices?", True),
        ("where in the AI act does it say I can complain?", True),
        ("What section of EO 14110 defines red-teaming?", True),
        ("What does Article 5 prohibit?", False),
        ("where can I comment on the draft?", False),
    ],
)
def test_questions_that_ask_for_a_part_of_the_text(question, wants_part):
    assert question_form(question).wants_part is wants_part


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("which appendix of the RMF covers human-AI interaction?", "appendix"),
        ("In which Annex are the high-risk areas listed?", "annex"),
        ("What section of EO 14110 defines red-teaming?", ""),  # sections are numbered lines
    ],
)
def test_a_question_for_an_appendix_or_annex_asks_for_that_kind(question, kind):
    assert question_form(question).part_kind == kind


@pytest.mark.parametrize(
    ("heading", "numbered"),
    [
        ("CHAPTER V › SECTION 2 › Article 53 › Obligations for providers", True),
        ("ANNEX III › High-risk AI systems", True),
        ("Sec. 3. Definitions", True),
        ("7.1. Strengthening AI and Civil Rights in the Criminal Justice System", True),
        ("REGULATION (EU) 2024/1689 OF THE EUROPEAN PARLIAMENT AND OF THE COUNCIL", False),
        ("Ministerial foreword", False),
    ],
)
def test_headings_that_name_a_numbered_part(heading, numbered):
    assert names_a_part(heading) is numbered


@pytest.mark.parametrize(
    ("question", "status"),
    [
        ("Is EO 14110 still in force?", True),
        ("Did the EU AI Act enter into force in August 2024?", True),
        ("Is SB 53 law yet?", True),
        ("What does the AI Act force providers to do?", False),
        ("When does the AI Act apply?", False),
    ],
)
def test_questions_about_a_documents_status(question, status):
    assert asks_status(question) is status


def test_a_third_passage_of_one_document_yields_only_to_a_close_rival():
    snapshot = SimpleNamespace(
        passages=[SimpleNamespace(doc_id=d) for d in ("act", "act", "act", "other", "act")]
    )
    far = {0: 3.0, 1: 2.9, 2: 2.8, 3: 2.0, 4: 1.9}
    assert _diversify([0, 1, 2, 3, 4], far, snapshot, Params()) == [0, 1, 2, 3, 4]
    close = {0: 3.0, 1: 2.9, 2: 2.8, 3: 2.7, 4: 1.9}
    assert _diversify([0, 1, 2, 3, 4], close, snapshot, Params()) == [0, 1, 3, 2, 4]


CHARTER = """---
title: "Charter of the Example AI Office"
publisher: "Example Government"
jurisdiction: "UK"
date: 2024-05-01
url: "https://example.org/charter"
---

# Section 2. Objectives

The Office pursues the following three objectives:

(a) First, the Office must test frontier models before they are released, with access to
model weights and to the developers' own evaluations of dangerous capabilities.

(b) Second, the Office must publish guidance for developers on evaluation methods, on
reporting of incidents, and on the security of model weights in storage and in transit.

(c) Third, the Office must coordinate with international partners so that evaluations done
in one country are recognised in others and results are shared across borders.

# Section 3. Budget

The objectives of the Office are funded from the science budget. The Office reports to
Parliament every year on how its spending served its objectives.

# Section 4. Staff

The Office recruits staff to meet its objectives and publishes its staffing objectives yearly.
"""

DECLARATION = """---
title: "The Example Declaration by Countries Attending the Example Safety Summit, 1-2 May 2024"
publisher: "Example Government"
jurisdiction: "International"
date: 2024-05-02
url: "https://example.org/declaration"
---

Policy paper

The Example Declaration by Countries Attending the Example Safety Summit, 1-2 May 2024

Published 2 May 2024

We affirm that AI should be designed, developed and used in a manner that is safe,
human-centric, trustworthy and responsible.
"""


ORDER = """---
title: "Executive Order on Example Justice Technology"
publisher: "Example Government"
jurisdiction: "US"
date: 2024-05-03
url: "https://example.org/order"
---

# Sec. 7. Criminal Justice

(b) The Attorney General shall, in consultation with the Director:

(i) within 365 days of the date of this order, submit to the President a report that
addresses the use of AI in the criminal justice system, including any use in:

(A) sentencing;

(B) parole, supervised release, and probation;

(C) bail and pretrial detention;

(ii) within 180 days of the date of this order, review the training of federal prosecutors
on civil rights and publish the results.

# Sec. 8. Definitions

(a) “Covered incident” means an event involving an AI system that results in any of the
following:

(1) unauthorized access to the model weights;

(2) harm to a person caused by the system's output.

# Sec. 9. Risk Management

Heads of agencies shall mitigate the risks of their AI use. These AI use risks that agencies
must mitigate include:

(A) risks to physical safety;

(B) privacy harms.

# Sec. 10. Annual Reports

Each agency shall publish an annual report on its AI use. The reports should be kept up to
date and should include, for example;

> the number of AI systems the agency operates,
> the incidents that each of those systems caused.
"""


@pytest.fixture
def real_service(tmp_path, real_embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "example-charter.md").write_text(CHARTER, encoding="utf-8")
    (corpus / "example-declaration.md").write_text(DECLARATION, encoding="utf-8")
    (corpus / "example-order.md").write_text(ORDER, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", corpus_dirs=[corpus], chunk_tokens=60)
    service = Service(settings, embedder=real_embedder)
    service.ensure_index()
    return service


def test_a_list_is_shown_whole_after_the_passage_that_introduces_it(real_service):
    answer = real_service.ask("What are the objectives of the Example AI Office?")
    assert not answer.abstained
    texts = [p.text for p in answer.passages[:3]]
    assert "the following three objectives" in texts[0]
    assert "test frontier models" in texts[0]
    assert "publish guidance" in texts[1]
    assert "international partners" in texts[2]
    items = [s.text for s in answer.sentences]
    assert [item[:10] for item in items] == ["(a) First,", "(b) Second", "(c) Third,"]
    assert [s.source for s in answer.sentences] == [1, 2, 3]


def test_the_items_a_best_sentence_announces_are_quoted_as_one_run(real_service, monkeypatch):
    question = "which criminal justice uses of AI did the attorney general have to report on?"
    answer = real_service.ask(question)  # the list goes on in the next passage
    assert [(s.source, s.text) for s in answer.sentences] == [
        (1, "(A) sentencing;"),
        (2, "(B) parole, supervised release, and probation; (C) bail and pretrial detention;"),
    ]  # one quote a passage, and "(ii)", the announcing item's sibling, ends the list
    run = answer.sentences[1]
    assert answer.passages[1].text[run.start : run.end].startswith("(B) parole, supervised")
    monkeypatch.setattr(answering, "list_items", lambda *args: [])
    assert "including any use in:" in real_service.ask(question).sentences[0].text


def test_a_list_announced_right_after_the_best_sentence_answers_it(real_service, monkeypatch):
    question = "what risks of their AI use must heads of agencies mitigate?"
    answer = real_service.ask(question)
    assert answer.sentences[0].text.startswith("(A) risks to physical safety")
    assert "(B) privacy harms" in " ".join(s.text for s in answer.sentences)

    def best_only(top, best_in_row, *args):  # the best sentence, only when it announces a list
        return best_in_row[top] if best_in_row[top].opens_list else None

    monkeypatch.setattr(answering, "list_intro", best_only)
    assert real_service.ask(question).sentences[0].text.startswith("Heads of agencies shall")


def test_a_defining_sentence_that_announces_a_list_leads_its_items(real_service):
    answer = real_service.ask("How does the order define a covered incident?")
    intro, items = answer.sentences[:2]
    assert intro.text.startswith("(a) “Covered incident” means")
    assert items.text.startswith("(1) unauthorized access") and "(2) harm" in items.text


def test_a_sentence_that_stops_on_an_announcing_word_introduces_its_items(real_service):
    answer = real_service.ask("What should the annual report of each agency include?")
    quoted = " ".join(s.text for s in answer.sentences)
    assert quoted.startswith("the number of AI systems") and "the incidents" in quoted


@pytest.mark.parametrize(
    ("sentence", "announces"),
    [
        ("The reports should include, for example;", True),
        ("Many risks originate from human behavior, including", True),
        ("Prohibited practices are the following.", True),
        ("The Office shall report:", True),
        ("Other details, such as the budget, should be included.", False),
        ("(a) remote biometric identification systems;", False),
    ],
)
def test_sentences_that_announce_a_list(sentence, announces):
    assert introduces_list(sentence) is announces


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("(A) sentencing;", "upper"),
        ("(ii) within 180 days", "roman"),
        ("(b) Second, the Office", "lower"),
        ("3. Scope", "number"),
        ("• General public", "bullet"),
        ("> Offensive cyber capabilities", "bullet"),
        ("(AI) systems are", None),
        ("The Office shall", None),
    ],
)
def test_list_markers_and_their_kinds(sentence, kind):
    assert marker_kind(sentence) == kind
    assert starts_list_item(sentence) is (kind is not None)


def test_a_passage_that_only_repeats_the_title_is_never_shown(real_service):
    answer = real_service.ask("How should AI be designed according to the Example Declaration?")
    assert not answer.abstained
    assert "human-centric" in answer.passages[0].text
    assert all(
        "We affirm" in p.text for p in answer.passages if p.document.doc_id == "example-declaration"
    )


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("How does the AI RMF define risk?", "How does the AI RMF risk"),
        ("What is the definition of an AI system in the Act?", "What is the an AI system the Act?"),
        ("When was the MOU signed?", "When was the MOU signed?"),
        ("Who signed the MOU?", "Who signed the MOU?"),
    ],
)
def test_the_words_that_only_ask_for_a_form_leave_the_topic(question, topic):
    assert question_form(question).topic == topic
