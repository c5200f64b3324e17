"""Front matter found the way the Hub found it in each era."""

from __future__ import annotations

import pytest

from ptmscope.cards.analysis import analyze_card
from ptmscope.cards.frontmatter import find_front_matter, split_front_matter

BLOCK = "---\nlicense: mit\ndatasets:\n- xsum\n---\n"


@pytest.mark.parametrize(
    ("card", "where", "read_2022", "read_2023"),
    [
        (BLOCK + "# model\n", "start", True, True),
        ("\n\n  " + BLOCK + "# model\n", "start", True, True),  # whitespace before: both eras read it
        ("# Wav2Vec2-Large-XLSR-53\n\n" + BLOCK + "text\n", "after_text", True, False),
        ("Hugging Face's logo\n" + BLOCK, "after_text", True, False),
        ("---  \nlicense: mit\n---\n# model\n", "loose_delimiter", True, False),
        ("---\nlicense: mit\n---", "start", True, True),  # closed at the end of the card
        ("---\nlicense: mit\n---  \n# x\n", "start", True, True),  # blanks after the closing line
    ],
)
def test_where_and_which_era_reads_it(card, where, read_2022, read_2023):
    found = find_front_matter(card)
    assert found is not None and found.where == where
    assert (split_front_matter(card, "hub-2022")[0] is not None) is read_2022
    assert (split_front_matter(card, "hub-2023")[0] is not None) is read_2023
    for rule, read in (("hub-2022", read_2022), ("hub-2023", read_2023)):
        analysis = analyze_card(card, rule)
        assert analysis.front_matter == where
        assert (analysis.facts.licenses == ["mit"]) is read, rule


@pytest.mark.parametrize(
    "card",
    [
        "----\nlicense: mit\n----\n# four dashes are not a delimiter\n",
        "\\n---\nlicense: mit\n---\n",  # a literal backslash-n before the dashes: not a line of its own
        "# no metadata at all\n\nsome --- dashes --- inline\n",
    ],
)
def test_what_neither_era_reads(card):
    assert split_front_matter(card, "hub-2022")[0] is None
    assert analyze_card(card, "hub-2022").status == "no_metadata"


def test_text_before_the_block_stays_in_the_body():
    card = "Intro line with a [link](https://github.com/acme/model)\n" + BLOCK + "## Training data\nxsum news.\n"
    block, _ = split_front_matter(card, "hub-2022")
    assert block is not None and block.line == 2
    assert block.body.startswith("Intro line") and "## Training data" in block.body
    assert ("github", "acme/model", "cited") in analyze_card(card, "hub-2022").links


def test_a_byte_order_mark_does_not_hide_the_block():
    assert analyze_card("\ufeff" + BLOCK, "hub-2023").facts.licenses == ["mit"]


@pytest.mark.timeout(60)  # a regex that backtracks on these would hang, not fail
def test_hostile_delimiters_end():
    assert analyze_card("x\n" + "---\n" * 200_000, "hub-2022").status in {"ok", "not_a_mapping", "no_metadata"}
    assert analyze_card("a" * 900_000 + "\n---\nlicense: mit\n", "hub-2022").status == "no_metadata"  # never closed
