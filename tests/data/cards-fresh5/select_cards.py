"""Pick a sixth set of model cards to label: never read while the card-analysis rules were tuned.

    python tests/data/cards-fresh5/select_cards.py   # rewrites cards/ and selection.json here

The same pools as ../cards-labelled/select_cards.py, without the cards chosen there, in
../cards-fresh to ../cards-fresh4 (whose mismatches were read to improve the rules, so
they are no longer fresh):
- hub-2022-02: the next 10 most-downloaded models with a card, and 10 at random;
- hub-2025-04-sample: the next 10 most-downloaded, and 10 at random.
The random draws use random.Random(202612035). The labels (labels.jsonl) follow the rules of
../cards-labelled/README.md and were made by readers who had not seen ptmscope's card-analysis
code or its output on these cards.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = HERE.parent / "cards-labelled"
SECOND = HERE.parent / "cards-fresh"
THIRD = HERE.parent / "cards-fresh2"
FOURTH = HERE.parent / "cards-fresh3"
FIFTH = HERE.parent / "cards-fresh4"
SEED = 202612035


def main() -> None:
    """The second set's drawing (../cards-fresh/select_cards.py), with this seed and the five earlier sets left out."""
    spec = importlib.util.spec_from_file_location("cards_fresh_select", SECOND / "select_cards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    module.draw(HERE, SEED, (FIRST, SECOND, THIRD, FOURTH, FIFTH))


if __name__ == "__main__":
    main()
