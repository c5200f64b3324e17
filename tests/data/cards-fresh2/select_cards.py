"""Pick a third set of model cards to label: never read while the card-analysis rules were tuned.

    python tests/data/cards-fresh2/select_cards.py   # rewrites cards/ and selection.json here

The same pools as ../cards-labelled/select_cards.py, without the cards chosen there or in
../cards-fresh (whose mismatches were read to improve the rules, so they are no longer fresh):
- hub-2022-02: the next 10 most-downloaded models with a card, and 10 at random;
- hub-2025-04-sample: the next 10 most-downloaded, and 10 at random.
The random draws use random.Random(202612032). The labels (labels.jsonl) follow the rules of
../cards-labelled/README.md and were made by readers who had not seen ptmscope's card-analysis
code or its output on these cards.
"""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = HERE.parent / "cards-labelled"
SEED = 202612032
SECOND = HERE.parent / "cards-fresh"


def _first_selection_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("cards_labelled_select", FIRST / "select_cards.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    first = _first_selection_module()
    rng = random.Random(SEED)
    taken = {
        entry["repo_id"]
        for folder in (FIRST, SECOND)
        for entry in json.loads((folder / "selection.json").read_text(encoding="utf-8"))
    }
    selection: list[dict[str, str]] = []
    texts_2022, downloads_2022 = first.pool_2022()
    for i, repo in enumerate(first.pick(texts_2022, downloads_2022, 10, 10, rng, taken)):
        selection.append({"repo_id": repo, "source": "hub-2022-02", "why": "top-downloaded" if i < 10 else "random"})
    texts_2025, downloads_2025 = first.pool_2025()
    for i, repo in enumerate(first.pick(texts_2025, downloads_2025, 10, 10, rng, taken)):
        selection.append(
            {"repo_id": repo, "source": "hub-2025-04-sample", "why": "top-downloaded" if i < 10 else "random"}
        )
    texts = {**texts_2022, **texts_2025}
    cards = HERE / "cards"
    cards.mkdir(exist_ok=True)
    for old in cards.glob("*.md"):
        old.unlink()
    for n, entry in enumerate(selection, start=1):
        entry["card"] = f"cards/{n:03d}.md"
        (HERE / entry["card"]).write_text(texts[entry["repo_id"]], encoding="utf-8")
    (HERE / "selection.json").write_text(json.dumps(selection, indent=1) + "\n", encoding="utf-8")
    print(f"{len(selection)} cards")


if __name__ == "__main__":
    main()
