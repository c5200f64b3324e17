"""Card analysis at corpus scale: a 2023-sized corpus of real model cards through ``ptmscope import``.

    python benchmarks/card_corpus.py                 # 25,109 cards (the 2023 card corpus's size)
    python benchmarks/card_corpus.py --cards 100000

The corpus is built from the real cards ptmscope ships (the Feb-2022 Hub's 15,194 text cards
and the April-2025 sample's 1,900), cycled to the size asked for under distinct ids, as one
JSON Lines file of ``{modelId, readme}``. ``ptmscope import`` then analyses every card the way
a crawl or an import does (front matter, model-index claims, sections, and the body: results,
base models, datasets, hyper-parameters, hardware, environment, limitations, links, each
with its evidence) on the machine's cores and writes it to a fresh store. The whole command
is timed, with the peak memory of its process tree. Target on a 2-core machine: under 60 s.
"""

from __future__ import annotations

import _paths

# isort: split
import argparse
import gzip
import json
import sys
import tempfile
from itertools import cycle, islice
from pathlib import Path

from ptmscope.sample import sample_paths

run = _paths.sibling("study_scale").run  # the shared process-tree timer


def real_cards() -> list[tuple[str, str]]:
    """(repo id, README text) of every text card ptmscope ships."""
    cards: list[tuple[str, str]] = []
    with gzip.open(sample_paths("hub-2022-02")[1], "rt", encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            text = row.get("readme")
            if isinstance(text, str) and text.strip() and not text.startswith("Error: the path"):
                cards.append((row["modelId"], text))
    with gzip.open(sample_paths("hub-2025-04-sample")[0], "rt", encoding="utf-8") as handle:
        for row in map(json.loads, handle):
            if isinstance(row.get("card"), str) and row["card"].strip():
                cards.append((row["model_id"], row["card"]))
    return cards


def write_corpus(path: Path, size: int) -> int:
    """Write ``size`` cards (real ones, cycled under distinct ids); return the bytes written."""
    cards = real_cards()
    with path.open("w", encoding="utf-8") as out:
        for n, (repo_id, text) in enumerate(islice(cycle(cards), size)):
            lap = n // len(cards)
            out.write(json.dumps({"modelId": repo_id if lap == 0 else f"{repo_id}-copy{lap}", "readme": text}) + "\n")
    return path.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cards", type=int, default=25_109, help="cards in the corpus (default: 25,109)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ptmscope-cards-") as tmp:
        corpus = Path(tmp) / "cards.jsonl"
        size = write_corpus(corpus, args.cards)
        db = Path(tmp) / "store.duckdb"
        seconds, peak, _ = run(
            [sys.executable, "-m", "ptmscope", "import", str(corpus), "--snapshot", "corpus", "--db", str(db), "--json"]
        )
        _, _, counted = run(
            [sys.executable, "-c", "import duckdb, sys, json; c = duckdb.connect(sys.argv[1], read_only=True);"
             "print(json.dumps([c.execute(f'SELECT count(*) FROM {t}').fetchone()[0] for t in"
             " ('cards', 'card_results', 'card_evidence')]))", str(db)]
        )  # fmt: skip
    cards, results, facts = json.loads(counted.stdout)
    print(f"corpus                  {args.cards:,} real cards ({size / 1e6:.0f} MB of JSON Lines)")
    rate = args.cards / seconds
    print(f"ptmscope import         {seconds:6.1f} s   peak {peak / 2**30:.2f} GiB   {rate:,.0f} cards/s")
    print(f"analysed                {cards:,} cards, {results:,} results and {facts:,} facts with evidence")
    print(f"target                  under 60 s: {'met' if seconds < 60 else 'NOT met'}")


if __name__ == "__main__":
    main()
