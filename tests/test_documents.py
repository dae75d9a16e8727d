"""Documents from real corpus files and originals (PDF, EUR-Lex HTML), and clear refusals."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import threading
import time
from pathlib import Path

import pypdf
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from retrieval.documents import SourceDocument, load_bytes, load_path, slugify
from retrieval.errors import DocumentError, printable
from retrieval.files import detect_kind

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
def test_every_corpus_document_loads_its_metadata() -> None:
    """All 28 front matters are read: title, jurisdiction, date and status as MANIFEST.tsv lists
    them, publisher and url as their own quoted lines say (both read without YAML)."""
    with (CORPUS / "MANIFEST.tsv").open(encoding="utf-8") as manifest:
        rows = list(csv.DictReader(manifest, delimiter="\t"))
    assert sorted(row["file"] for row in rows) == [p.name for p in CORPUS_FILES]
    assert len(rows) == 28
    for row in rows:
        raw = (CORPUS / row["file"]).read_text(encoding="utf-8")
        meta = load_path(CORPUS / row["file"], LIMIT).meta
        for key in ("title", "jurisdiction", "date", "status"):
            assert meta[key] == row[key], (row["file"], key)
        for key in ("publisher", "url"):
            quoted = re.search(rf'^{key}: (".*")$', raw, re.M).group(1)
            assert meta[key] == json.loads(quoted), (row["file"], key)


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
    # Its first ten pages (of 64: the whole takes 6 s here), with the file's own metadata.
    original = pypdf.PdfReader(ORIGINALS / "NIST.AI.600-1.pdf")
    first_pages = pypdf.PdfWriter()
    for page in original.pages[:10]:
        first_pages.add_page(page)
    first_pages.add_metadata(original.metadata)
    data = io.BytesIO()
    first_pages.write(data)
    doc = load_bytes(data.getvalue(), "NIST.AI.600-1.pdf")
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
        (b"%PDF-1.7 rest", "report.PDF", "pdf"),
        (b"\xef\xbb\xbf\n  <!DOCTYPE html><html><p>x</p></html>", "page.html", "html"),
        (b"<html><body>x</body></html>", "page.HTM", "html"),
        (b"plain words", "notes.markdown", "markdown"),
        (b"plain words", "notes.TXT", "text"),
        (b"<p>fragment</p>", "frag.htm", "html"),
        (b"<p>inline HTML in Markdown</p>\n\nText.", "notes.md", "markdown"),
    ],
)
def test_detect_kind_confirms_the_name(data: bytes, filename: str, kind: str) -> None:
    assert detect_kind(data, filename) == kind


LOGIN_PAGE = b"<!DOCTYPE html><html><head><title>Sign in</title></head><body>Sign in required"


@pytest.mark.parametrize(
    ("data", "filename", "named", "holds"),
    [
        (LOGIN_PAGE, "report.pdf", "PDF", "an HTML page"),
        (LOGIN_PAGE, "report.md", "Markdown", "an HTML page"),
        (
            b"\n<html lang=en><body>Sign in required</body></html>",
            "notes.txt",
            "plain text",
            "an HTML page",
        ),
        (b"%PDF-1.7\n%binary", "paper.html", "HTML", "a PDF"),
        (b"%PDF-1.7\n%binary", "paper.md", "Markdown", "a PDF"),
        (b"%PDF-1.7\n%binary", "paper.txt", "plain text", "a PDF"),
        (b"just text", "paper.pdf", "PDF", "text"),
        (bytes(range(256)), "paper.pdf", "PDF", "binary data"),
    ],
)
def test_name_and_content_of_different_types_are_refused(
    data: bytes, filename: str, named: str, holds: str
) -> None:
    message = refusal(data, filename)
    assert message.startswith(f"{filename}: the name says {named} but the content is {holds}")


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


def test_invalid_yaml_front_matter_is_refused() -> None:
    message = refusal(b"---\ntitle: [unclosed\ndate: 2024-01-01\n---\nBody\n", "bad.md")
    assert message.startswith("bad.md: front matter is not valid YAML")


LAUGHS = "\n".join(
    ['a0: &a0 "lol"'] + [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 6)]
)  # a small alias bomb: 10^5 strings once expanded; the real one had 9 levels


@pytest.mark.parametrize(
    ("front", "problem"),
    [
        (
            LAUGHS,
            "front matter (line 2) uses a YAML anchor or alias (& or *); write each value out",
        ),
        ("title: T\nbase: &b {k: v}\nother: *b", "uses a YAML anchor or alias"),
        ("tags: [[[[x]]]]", "front matter (line 2) nests deeper than 4 levels"),
        (
            "title: '" + "x" * 70_000 + "'",
            "front matter is 70,010 characters, over the limit of 65,536",
        ),
    ],
)
def test_hostile_front_matter_is_refused_at_once(front: str, problem: str) -> None:
    started = time.perf_counter()
    message = refusal(f"---\n{front}\n---\nBody text.\n".encode(), "bomb.md")
    assert problem in message and message.startswith("bomb.md: ")
    assert time.perf_counter() - started < 0.5


def test_front_matter_values_python_cannot_build_are_kept_as_written() -> None:
    """A 5,000-digit number or a 13th month raised ValueError, which no caller maps."""
    doc = load_bytes(f"---\nref: {'9' * 5000}\nrevised: 2024-13-45\n---\nBody\n".encode(), "x.md")
    assert doc.meta["ref"] == "9" * 5000 and doc.meta["revised"] == "2024-13-45"
    message = refusal(b"---\ndate: 2024-13-45\n---\nBody\n", "d.md")
    assert message == "d.md: date must be YYYY-MM-DD, not '2024-13-45'"


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


def load_within(path: Path, max_bytes: int, seconds: float = 5.0) -> str:
    """Load ``path`` in a thread; the refusal's message, or a failure if it blocks or loads."""
    outcome: list[BaseException | SourceDocument] = []

    def run() -> None:
        try:
            outcome.append(load_path(path, max_bytes))
        except BaseException as err:  # noqa: BLE001 (reported to the test below)
            outcome.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive() and path.is_fifo():  # release a reader blocked in open()
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    assert outcome, f"loading {path.name} blocked for {seconds} s"
    assert isinstance(outcome[0], DocumentError), f"{path.name} loaded: {outcome[0]!r}"
    return str(outcome[0])


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs and /dev/zero")
def test_only_regular_files_are_read(tmp_path: Path) -> None:
    """A FIFO would block, /dev/zero never ends, /proc says 0 bytes and then gives more."""
    os.mkfifo(tmp_path / "pipe.md")
    (tmp_path / "zero.md").symlink_to("/dev/zero")
    (tmp_path / "folder.md").mkdir()
    started = time.perf_counter()
    assert load_within(tmp_path / "pipe.md", 1_000) == (
        "pipe.md is a named pipe (FIFO), not a regular file; refused"
    )
    assert "zero.md is a character device" in load_within(tmp_path / "zero.md", 1_000)
    assert "folder.md is a directory" in load_within(tmp_path / "folder.md", 1_000)
    assert time.perf_counter() - started < 1.0
    real = tmp_path / "real.md"
    real.write_text("Real text behind a link.\n")
    (tmp_path / "link.md").symlink_to(real)
    assert load_path(tmp_path / "link.md", 1_000).text == "Real text behind a link.\n"
    status = Path("/proc/self/status")
    if status.is_file() and status.stat().st_size == 0:
        (tmp_path / "status.txt").symlink_to(status)
        message = load_within(tmp_path / "status.txt", 100)
        assert message == "status.txt grew past the limit of 100 bytes while being read"


def test_echoed_names_and_values_carry_no_control_characters(tmp_path: Path) -> None:
    assert printable("a\x1b[2J\x9b\u202e\x00\n\tb") == "a\\x1b[2J\\x9b\\u202e\\x00\\n\\tb"
    assert printable("Über – “quoted” 😀 ok") == "Über – “quoted” 😀 ok"
    name = "evil\x1b]0;owned\x07\u202ecod.md"
    shown = "evil\\x1b]0;owned\\x07\\u202ecod.md"
    messages = [
        refusal(b"\x89PNG\x00", name),
        refusal(b"---\ntitle: [unclosed\n---\nBody\n", name),
        refusal(b'---\ndate: "\\e[31m2024"\n---\nBody\n', "d.md"),
        refusal(b"text", "\x1b[2J.docx"),
        refusal(b"text", "\x1b.md"),  # no usable id
    ]
    with pytest.raises(DocumentError) as missing:
        load_path(tmp_path / name, 1_000)
    messages.append(str(missing.value))
    assert all(message.isprintable() for message in messages), messages
    assert messages[0].startswith(shown) and messages[-1] == f"cannot read {shown}: " + (
        "No such file or directory"
    )
    assert "'\\x1b[31m2024'" in messages[2]


def test_loading_cost_is_bounded() -> None:
    """A text over the character limit is refused by name; hostile lines load in linear time."""
    with pytest.raises(DocumentError) as over:
        load_bytes(b"word " * 201, "big.txt", max_chars=1_000)
    assert str(over.value) == (
        "big.txt has 1,005 characters of text, over the limit of 1,000 "
        "(setting POLICYBOT_MAX_DOCUMENT_CHARS)"
    )
    started = time.perf_counter()
    heading = "a" + " #" * 40_000 + " b"  # the title pattern took 40 s on this line
    assert load_bytes(f"# {heading}\n\nBody.".encode(), "h.md").meta["title"] == heading
    pages = [["a" * 40_000 + "-", "b"], ["1/" * 10_000 + "x", "Body."]]  # 18 s and 2 s
    assert load_bytes(make_pdf(pages), "long.pdf").text.startswith("a" * 40_000 + "-b")
    assert time.perf_counter() - started < 3.0


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DocumentError, match="cannot read gone.md"):
        load_path(tmp_path / "gone.md", 1_000)
