"""Where a model card's YAML front matter is, the way the Hub read it in each era.

The Hub has not always found front matter the same way:

``hub-2022``
    Until January 2023 the Hub (and huggingface_hub, whose pattern was "the exact same
    regex as in the Hub server") took the first ``---`` line *anywhere* in the card as the
    opening delimiter: a card that starts with a title or a sentence and has its metadata
    below still had its metadata read, and its tags show it. On the bundled Feb-2022
    snapshot this rule agrees with the tags the Hub derived from the card (the YAML's own
    ``tags``, which the Hub copied into the model's) on 11,847 of the 11,850 cards whose YAML
    holds tags; the rule of today agrees on 11,811.
``hub-2023``
    Since January 2023 (huggingface_hub PR #1285, kept in sync with the Hub server)
    the block must open the card: only whitespace may come before the first ``---``.
    This is huggingface_hub's own ``REGEX_YAML_BLOCK``, imported, not copied.

``split_front_matter`` returns the block a rule finds and says *where* it was found, so a
study can count the cards each lenient rule rescues, whichever rule the snapshot uses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

FrontMatterRule = Literal["hub-2022", "hub-2023"]
RULES: tuple[FrontMatterRule, ...] = ("hub-2022", "hub-2023")
DEFAULT_RULE: FrontMatterRule = "hub-2023"

RULE_TEXT: dict[str, str] = {
    "hub-2022": "as the Hub read cards until January 2023: the first '---' line anywhere opens the front matter",
    "hub-2023": "as the Hub reads cards since January 2023: the front matter must open the card",
}

# The pre-2023 rule, written from its observed behaviour on the Feb-2022 cards and tags:
# a '---' line (trailing blanks allowed) after a line break or at the start, the block,
# and a closing '---' line that ends at a line break or at the end of the card.
_HUB_2022 = re.compile(r"(?:^|[\n\r])---[ \t]*[\n\r]+([\S\s]*?)[\n\r]+---[ \t]*(?:[\n\r]|$)")

Where = Literal["start", "after_text", "loose_delimiter"]
"""Where a block was found: at the start of the card (both eras read it); after other text
(only the pre-2023 Hub read it); at the start but with blanks after the opening '---'
(only the pre-2023 Hub read it)."""


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """A YAML block found in a card, and what follows it."""

    yaml: str
    body: str
    """The card without the block (text before it included)."""
    where: Where
    line: int
    """1-based line of the opening '---'."""
    span: tuple[int, int]
    """Offsets of the block (delimiters included) in the card."""

    def masked(self, content: str) -> str:
        """The card with the block blanked out line for line, so body lines keep the card's numbering."""
        start, end = self.span
        return content[:start] + "\n" * content.count("\n", start, end) + content[end:]


def _hub_2023() -> re.Pattern[str]:
    """huggingface_hub's own pattern (huggingface_hub.repocard imports its HTTP client: ~0.2 s, paid on first use)."""
    from huggingface_hub.repocard import REGEX_YAML_BLOCK  # heavy (see the docstring); card parsing only

    return REGEX_YAML_BLOCK


def find_front_matter(content: str) -> FrontMatter | None:
    """The block the lenient (pre-2023) rule finds, classified by where it is; None without one."""
    current = _hub_2023().search(content)
    if current is not None:
        opening = content.index("---", current.start(1))
        line = content.count("\n", 0, opening) + 1
        return FrontMatter(current.group(2), content[current.end() :], "start", line, (opening, current.end()))
    match = _HUB_2022.search(content)
    if match is None:
        return None
    opening = content.index("---", match.start())
    before = content[:opening]
    where: Where = "after_text" if before.strip() else "loose_delimiter"
    line = content.count("\n", 0, opening) + 1
    return FrontMatter(match.group(1), before + content[match.end() :], where, line, (opening, match.end()))


def split_front_matter(
    content: str, rule: FrontMatterRule = DEFAULT_RULE
) -> tuple[FrontMatter | None, FrontMatter | None]:
    """(the block ``rule`` reads or None, the block found by any rule or None).

    The second value lets the caller report a block that this rule ignores (a card whose
    metadata follows a title is read under ``hub-2022`` and only noticed under ``hub-2023``).
    """
    found = find_front_matter(content)
    if found is None:
        return None, None
    if found.where == "start" or rule == "hub-2022":
        return found, found
    return None, found
