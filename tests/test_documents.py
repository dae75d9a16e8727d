"""Documents from real corpus files and originals (PDF, EUR-Lex HTML), and clear refusals."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from retrieval.documents import SourceDocument, detect_kind, load_bytes, load_path, slugify
from retrieval.errors import DocumentError

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPUS = SHARED / "corpus"
ORIGINALS = SHARED / "corpus-originals"
LIMIT = 50_000_000

needs_corpus = pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"shared corpus not found at {CORPUS}"
)
needs_originals = pytest.mark.skipif(
    not ORIGINALS.is_dir(), reason=f"original PDF/HTML files not found at {ORIGINALS}"
)
CORPUS_FILES = sorted(p for p in CORPUS.glob("*.md") if p.name != "README.md")


def make_pdf(pages: list[list[str]], title: str = "") -> bytes:
    """A minimal valid PDF with one Helvetica text line per entry of each page."""

    def escape(line: str) -> str:
        return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    kids = " ".join(f"{4 + 2 * i} 0 R" for i in range(len(pages)))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {len(pages)} >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    for i, lines in enumerate(pages):
        shown = " ".join(f"({escape(line)}) Tj T*" for line in lines)
        ops = f"BT /F1 11 Tf 14 TL 72 740 Td {shown} ET"
        objects.append(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            f"/Resources << /Font << /F1 3 0 R >> >> /Contents {5 + 2 * i} 0 R >>"
        )
        objects.append(f"<< /Length {len(ops)} >>\nstream\n{ops}\nendstream")
    info = ""
    if title:
        objects.append(f"<< /Title ({escape(title)}) /CreationDate (D:20240102030405Z) >>")
        info = f" /Info {len(objects)} 0 R"
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R{info} >>"
    return out + f"trailer\n{trailer}\nstartxref\n{xref}\n%%EOF\n".encode()


def refusal(data: bytes, filename: str) -> str:
    """The message of the DocumentError that loading raises: one line, no traceback."""
    with pytest.raises(DocumentError) as caught:
        load_bytes(data, filename)
    message = str(caught.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# Real Markdown corpus ---------------------------------------------------------------------------


@needs_corpus
@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_corpus_markdown_loads_with_front_matter(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    front = yaml.safe_load(raw.split("---\n", 2)[1])
    doc = load_path(path, LIMIT)
    assert doc.kind == "markdown"
    assert doc.doc_id == path.stem
    assert doc.meta["title"] == front["title"]
    assert doc.meta["date"] == front["date"].isoformat()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc.meta["date"])
    assert all(isinstance(v, str) for v in doc.meta.values())
    assert doc.meta["status"] and doc.meta["license"] and doc.meta["url"].startswith("http")
    assert raw.replace("\r\n", "\n").endswith(doc.text)  # the body, verbatim
    assert not doc.text.lstrip().startswith("---") and doc.text.strip()
    assert doc.content_hash == hashlib.sha256(doc.text.encode()).hexdigest()


@needs_corpus
def test_known_document_metadata() -> None:
    doc = load_path(CORPUS / "us-eo-14110-safe-secure-trustworthy-ai.md", LIMIT)
    assert doc.doc_id == "us-eo-14110-safe-secure-trustworthy-ai"
    assert doc.meta["title"].startswith("Executive Order 14110 of October 30, 2023")
    assert doc.meta["date"] == "2023-10-30"
    assert doc.meta["jurisdiction"] == "US"
    assert "revoked" in doc.meta["status"].lower()
    assert doc.meta["completeness"]  # other front-matter keys are kept


# Real PDFs and HTML -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def un_resolution() -> SourceDocument:
    return load_path(ORIGINALS / "A-RES-78-265.pdf", LIMIT)


@needs_originals
def test_un_resolution_pdf(un_resolution: SourceDocument) -> None:
    text = un_resolution.text
    assert un_resolution.kind == "pdf"
    assert un_resolution.doc_id == "a-res-78-265"
    assert "Reaffirming international law, in particular the Charter of the United Nations" in text
    assert "63rd plenary meeting" in text
    assert "Resolution adopted by the General Assembly" in text
    # running headers and "24-05969 2/8" page footers are gone, the title line is not
    assert "24-05969 2/8" not in text and "7/8 24-05969" not in text
    assert text.count("Seizing the opportunities of safe, secure and trustworthy artificial") == 1
    assert "\n\n" in text and "  " not in text
    assert un_resolution.meta["date"] == "2024-04-05"  # the PDF's creation date
    assert un_resolution.meta["title"]


@needs_originals
def test_hiroshima_code_of_conduct_pdf() -> None:
    name = "Hiroshima_Process_International_Code_of_Conduct_for_Advanced_AI_Systems.pdf"
    doc = load_path(ORIGINALS / name, LIMIT)
    assert doc.meta["title"] == (
        "Hiroshima Process International Code of Conduct for Organizations Developing "
        "Advanced AI Systems"
    )
    assert doc.meta["date"] == "2023-10-30"
    assert "Organizations should follow these actions in line with a risk-based approach." in (
        doc.text
    )
    assert "Identify and mitigate vulnerabilities, and, where appropriate, incidents" in doc.text
    assert not doc.text.startswith("1\n")  # the page number is dropped


@needs_originals
def test_nist_generative_ai_profile_pdf() -> None:
    doc = load_path(ORIGINALS / "NIST.AI.600-1.pdf", LIMIT)  # 64 pages, about 5 s
    assert doc.meta["title"] == (
        "Artificial Intelligence Risk Management Framework: Generative Artificial Intelligence "
        "Profile"
    )
    # ligatures ("ﬁ") come out as plain letters, so searches for "confidently" match
    assert "GAI systems generate and confidently present" in doc.text
    assert "ﬁ" not in doc.text
    assert "state-of-the-art" in doc.text or "state-of-\nthe-art" in doc.text


@pytest.fixture(scope="module")
def eur_lex() -> SourceDocument:
    return load_path(ORIGINALS / "eu_ai_act_32024R1689_eurlex.html", LIMIT)


@needs_originals
def test_eur_lex_html_keeps_the_act(eur_lex: SourceDocument) -> None:
    text = eur_lex.text
    assert eur_lex.kind == "html"
    assert len(text) > 500_000
    assert "Article 5\n\nProhibited AI practices" in text
    assert "(a) the placing on the market, the putting into service or the use of an AI system" in (
        text
    )
    assert "ANNEX III\n\nHigh-risk AI systems referred to in Article 6(2)" in text
    assert "Article 113" in text and "ANNEX XIII" in text
    assert "the number of registered end-users." in text  # the last point of the last annex
    assert "\xa0" not in text and "1\\." not in text


@needs_originals
def test_eur_lex_html_drops_page_chrome(eur_lex: SourceDocument) -> None:
    text = eur_lex.text
    for chrome in ("Skip to main content", "Select your language", "Advanced search", "Need help?"):
        assert chrome not in text
    assert "<script" not in text and "function(" not in text
    assert eur_lex.meta["url"] == "https://eur-lex.europa.eu/eli/reg/2024/1689/oj/eng"
    assert eur_lex.meta["date"] == "2024-07-12"
    assert "2024/1689" in eur_lex.meta["title"]
    assert eur_lex.meta["publisher"] == "eur-lex.europa.eu"


# Markdown and text details ----------------------------------------------------------------------


def test_front_matter_is_parsed_and_body_kept_verbatim() -> None:
    data = (
        b"---\r\ntitle: 'Policy X'\r\ndate: 2024-06-13\r\ntags: [a, b]\r\nempty:\r\n---\r\n"
        b"\r\nFirst  line.\r\n\r\n  Indented [link](x).\r\n"
    )
    doc = load_bytes(data, "Policy X.md")
    assert doc.text == "\nFirst  line.\n\n  Indented [link](x).\n"
    assert doc.meta["title"] == "Policy X"
    assert doc.meta["date"] == "2024-06-13"
    assert doc.meta["tags"] == "a, b" and doc.meta["empty"] == ""
    assert doc.meta["publisher"] == "" and doc.meta["url"] == ""
    assert doc.doc_id == "policy-x"


def test_title_falls_back_to_heading_then_first_line_then_file_name() -> None:
    heading = load_bytes(b"Intro text\n\n# The Heading\n\nBody.", "a.md")
    assert heading.meta["title"] == "The Heading"
    first_line = load_bytes(b"\n\nA short first line\nmore text", "b.txt")
    assert first_line.meta["title"] == "A short first line"
    assert first_line.kind == "text"
    long_line = load_bytes(("word " * 60).encode(), "uk_ai-white_paper.txt")
    assert long_line.meta["title"] == "Uk ai white paper"


def test_html_title_prefers_open_graph_then_title_element() -> None:
    body = b"<body><main><h1>Heading</h1><p>" + b"Some policy text here. " * 20 + b"</p></main>"
    footer = b'<footer><h2 class="site-footer__title">Need help?</h2></footer></body></html>'
    og = b'<html><head><meta property="og:title" content="OG Title"><title>T | Site</title></head>'
    assert load_bytes(og + body + footer, "a.html").meta["title"] == "OG Title"
    plain = b"<html><head><title>\n  Page   Title | Site </title></head>"
    assert load_bytes(plain + body + footer, "b.html").meta["title"] == "Page Title | Site"


def test_same_content_under_another_name_has_the_same_hash() -> None:
    one = load_bytes(b"---\ntitle: A\n---\nSame body.\n", "one.md")
    two = load_bytes(b"Same body.\n", "two.txt")
    assert one.content_hash == two.content_hash
    assert one.doc_id != two.doc_id


@pytest.mark.parametrize(
    ("stem", "slug"),
    [
        ("US EO 14110 (Safe) AI", "us-eo-14110-safe-ai"),
        ("Über—KI  Gesetz", "uber-ki-gesetz"),
        ("--NIST.AI.600-1--", "nist.ai.600-1"),
        ("a__b", "a__b"),
    ],
)
def test_doc_id_slug(stem: str, slug: str) -> None:
    assert slugify(stem) == slug


@given(st.text(min_size=1, max_size=40))
def test_doc_id_is_always_a_clean_slug(stem: str) -> None:
    try:
        slug = slugify(stem)
    except DocumentError:
        return  # nothing usable in the name, e.g. only punctuation
    assert re.fullmatch(r"[a-z0-9][a-z0-9._-]*", slug) and "--" not in slug
    assert slugify(slug) == slug


@pytest.mark.parametrize(
    ("data", "filename", "kind"),
    [
        (b"%PDF-1.7 rest", "report.md", "pdf"),
        (b"\xef\xbb\xbf\n  <!DOCTYPE html><html><p>x</p></html>", "page.txt", "html"),
        (b"<html><body>x</body></html>", "notes.MD", "html"),
        (b"plain words", "notes.markdown", "markdown"),
        (b"plain words", "notes.TXT", "text"),
        (b"<p>fragment</p>", "frag.htm", "html"),
    ],
)
def test_detect_kind_by_content(data: bytes, filename: str, kind: str) -> None:
    assert detect_kind(data, filename) == kind


def test_pdf_cleanup_and_metadata_title() -> None:
    pages = [
        [
            "Running Header",
            "Rules on the regu-",
            "lation of models.",
            "The regulation applies.",
            "1",
        ],
        ["Running Header", "A state-of-", "the-art model.", "2"],
        ["Running Header", "Last    page.", "Page 3 of 3"],
    ]
    doc = load_bytes(make_pdf(pages, title="Microsoft Word - draft v3.docx"), "Draft.pdf")
    assert doc.text == (
        "Rules on the regulation of models.\nThe regulation applies.\n\n"
        "A state-of-the-art model.\n\nLast page."
    )
    assert doc.meta["title"] == "Rules on the regulation of models."  # not the Word file name
    assert doc.meta["date"] == "2024-01-02"
    titled = load_bytes(make_pdf([["Body text."]], title="AI Policy Paper"), "x.pdf")
    assert titled.meta["title"] == "AI Policy Paper"


# Refusals ---------------------------------------------------------------------------------------


@needs_originals
def test_truncated_pdf_is_refused() -> None:
    data = (ORIGINALS / "A-RES-78-265.pdf").read_bytes()
    message = refusal(data[: len(data) // 2], "A-RES-78-265.pdf")
    assert "could not be read as a PDF" in message


def test_pdf_without_text_is_refused() -> None:
    assert "no extractable text" in refusal(make_pdf([[]]), "scan.pdf")


def test_binary_renamed_markdown_is_refused() -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01" + bytes(64)
    message = refusal(png, "report.md")
    assert message == "report.md is not text (binary content); supported: Markdown, text, PDF, HTML"


def test_invalid_utf8_is_refused() -> None:
    message = refusal("Résumé of the act".encode("latin-1"), "notes.txt")
    assert "not valid UTF-8" in message and "0xe9" in message


def test_unsupported_suffix_is_refused() -> None:
    message = refusal(b"PK\x03\x04 docx bytes", "policy.docx")
    assert "unsupported file type '.docx'" in message and "Markdown, text, PDF, HTML" in message


def test_text_named_pdf_is_refused() -> None:
    assert "is not a PDF" in refusal(b"just text", "paper.pdf")


def test_invalid_yaml_front_matter_is_refused() -> None:
    message = refusal(b"---\ntitle: [unclosed\ndate: 2024-01-01\n---\nBody\n", "bad.md")
    assert message.startswith("bad.md: front matter is not valid YAML")


def test_front_matter_that_is_not_a_mapping_is_refused() -> None:
    assert "key: value" in refusal(b"---\n- a\n- b\n---\nBody\n", "list.md")


def test_bad_front_matter_date_is_refused() -> None:
    assert "date must be YYYY-MM-DD" in refusal(b"---\ndate: June 2024\n---\nBody\n", "d.md")


def test_empty_document_is_refused() -> None:
    assert "contains no text" in refusal(b"---\ntitle: Only metadata\n---\n\n  \n", "e.md")


def test_file_name_without_usable_id_is_refused() -> None:
    assert "document id" in refusal(b"text", "---.md")


def test_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_bytes(b"x" * 2_001)
    with pytest.raises(DocumentError, match=r"big\.md is 2,001 bytes, over the limit of 2,000"):
        load_path(path, 2_000)
    assert load_path(path, 2_001).text == "x" * 2_001


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot read gone.md"):
        load_path(tmp_path / "gone.md", 1_000)
