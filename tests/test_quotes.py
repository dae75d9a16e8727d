"""Quote cleaning: what is shown reads as text, and every shown character maps back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from retrieval.quotes import clean, cleaned_highlights, marked_runs, readable, short_heading

WORDS = st.text(alphabet=st.sampled_from("abcXYZ 019.,"), min_size=1, max_size=12)
PIECES = st.one_of(
    WORDS,
    st.builds(lambda a, u: f"[{a}](https://x.org/{u})", WORDS.filter(str.strip), WORDS),
    st.builds(lambda a: f"**{a.strip() or 'b'}**", WORDS),
    st.just("\n"),
    st.just("\\*"),
    st.just("- "),
    st.just("> "),
)


@given(st.lists(PIECES, max_size=12).map("".join))
def test_every_cleaned_character_maps_back_to_the_same_character(text):
    cleaned, offsets = clean(text)
    assert len(cleaned) == len(offsets)
    assert offsets == sorted(set(offsets))  # in order, each once
    for char, offset in zip(cleaned, offsets, strict=True):
        assert char == text[offset] or (char == " " and text[offset].isspace())
    assert "\n" not in cleaned and "  " not in cleaned


def test_markdown_and_line_breaks_read_as_text():
    raw = (
        "- Today OMB is issuing [OMB’s first government-wide policy](https://x.gov/m.pdf)\n"
        "to **mitigate** risks of AI \\(and more\\)."
    )
    assert readable(raw) == (
        "Today OMB is issuing OMB’s first government-wide policy to mitigate risks of AI (and more)."
    )


def test_an_unpaired_bold_marker_is_not_shown():
    # A source's misplaced closing marker leaves both markers unpaired.
    raw = "- **The companies commit to sharing information. **This includes best practices."
    assert readable(raw) == (
        "The companies commit to sharing information. This includes best practices."
    )


def test_an_arrow_bullet_converted_to_a_quote_marker_is_not_shown():
    assert readable(">  Risks from models of making copies of themselves.") == (
        "Risks from models of making copies of themselves."
    )


def test_highlights_follow_the_cleaned_text():
    raw = "See [the policy](https://x.gov/p) now. Then **act** fast."
    start = raw.index("Then")
    cleaned, spans = cleaned_highlights(raw, [(start, len(raw))])
    assert [cleaned[a:b] for a, b in spans] == ["Then act fast."]
    assert [text for text, marked in marked_runs(raw, [(start, len(raw))]) if marked] == [
        "Then act fast."
    ]


def test_a_heading_is_its_own_section_cut_at_a_word():
    assert short_heading("Chapter III › Section 2 › Article 9 › Risk management system") == (
        "Risk management system"
    )
    long = "22757.10. This chapter shall be known as the Transparency in Frontier Artificial Intelligence Act"
    cut = short_heading(long, limit=60)
    assert cut.endswith("…") and len(cut) <= 60 and long.startswith(cut[:-1])
    assert (
        short_heading("5 › 5.1.3\u2002 Tackling\u2002specific risks")
        == "5.1.3 Tackling specific risks"
    )


@given(
    st.lists(
        st.one_of(PIECES, st.sampled_from(["\u00a0", "\t", " • ", "## ", "_x_"])), max_size=12
    ).map("".join)
)
def test_readable_is_the_cleaned_text(text):
    """Its shortcut for plain text gives what the offset-keeping walk gives."""
    assert readable(text) == clean(text)[0]
