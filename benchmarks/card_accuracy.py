"""Precision and recall of ptmscope's card analysis against hand-labelled real cards.

    python benchmarks/card_accuracy.py                # the table: the 146, the held-out quarter, dev 160, fresh 40
    python benchmarks/card_accuracy.py --misses       # every mismatch on the 146, to read by hand
    python benchmarks/card_accuracy.py --dev-misses   # every mismatch on the dev 160
    python benchmarks/card_accuracy.py --json

Six sets, each a folder of cards and labels (its README.md says how they were
chosen and labelled):

- tests/data/cards-labelled: 146 cards. The extractor's rules were written while reading
  mismatches on these. "held-out" is every fourth of them (card numbers divisible by 4): the
  first rounds of rules were tuned on the other cards only; a later round read mismatches on all
  146, so held-out is no longer a clean estimate, and is kept to show the trend.
- tests/data/cards-fresh, cards-fresh2, cards-fresh3 and cards-fresh4 ("dev", 160 cards): 40 cards each, drawn by
  a seeded script after the rounds before them and labelled by readers who had not seen the analysis
  code or its output. Each was the honest estimate until its mismatches were read to improve the
  rules; now dev sets.
- tests/data/cards-fresh5 ("fresh"): 40 more, drawn and labelled the same way before the rules
  were tuned on cards-fresh4. No rule was tuned on them: the honest estimate for cards never seen.

Each card is analysed the way an import analyses it (``analyze_card`` with the front-matter rule
of its era and its repo id) and, for the audit verdicts, audited as a local model folder holding
only its README.md. Per field, predicted and labelled items are matched one to one (the matching
rules are ``match_*`` below) and micro-averaged over cards:

    precision = matched / predicted        recall = matched / labelled
"""

from __future__ import annotations

import _paths  # noqa: F401 - takes this folder off the import path

# isort: split
import argparse
import json
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ptmscope.cards.analysis import CardAnalysis, analyze_card
from ptmscope.cards.body import hyperparameter_key, metric_of, parse_number

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
FIXTURE = DATA / "cards-labelled"
DEV = tuple(DATA / name for name in ("cards-fresh", "cards-fresh2", "cards-fresh3", "cards-fresh4"))
FRESH = DATA / "cards-fresh5"
FIELDS = ("license", "datasets", "base_models", "paper", "code", "hyperparameters", "hardware", "environment",
          "limitations", "results")  # fmt: skip
# audit check -> the label field whose non-emptiness it should agree with
AUDIT_CHECKS = {
    "declares_license": "license",
    "declares_training_datasets": "datasets",
    "declares_base_model": "base_models",
    "links_paper": "paper",
    "provides_training_code": "code",
    "reports_performance": "results",
    "documents_hyperparameters": "hyperparameters",
    "documents_environment": "environment",
    "states_hardware": "hardware",
    "states_limitations": "limitations",
}


def load(folder: Path = FIXTURE) -> list[tuple[dict[str, Any], dict[str, Any], str]]:
    """(selection entry, label, card text) per card, in order."""
    selection = json.loads((folder / "selection.json").read_text(encoding="utf-8"))
    labels = [json.loads(line) for line in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines()]
    for entry, label in zip(selection, labels, strict=True):
        assert entry["card"] == label["card"], (entry["card"], label["card"])
    return [
        (s, lab, (folder / s["card"]).read_text(encoding="utf-8")) for s, lab in zip(selection, labels, strict=True)
    ]


def analyse(entry: dict[str, Any], text: str) -> CardAnalysis:
    """The card as an import of its snapshot analyses it."""
    rule = "hub-2022" if entry["source"] == "hub-2022-02" else "hub-2023"
    repo = "" if entry["repo_id"].startswith("fixture/") else entry["repo_id"]
    return analyze_card(text, rule, repo_id=repo)  # type: ignore[arg-type]


# -- what the analysis predicts, per field ------------------------------------------------------------


def predicted(a: CardAnalysis) -> dict[str, Any]:
    body, facts = a.body, a.facts
    results = []
    for claim in facts.claims:
        if claim.status in ("valid", "no_dataset") and claim.value is not None:
            dataset = claim.dataset_type or claim.dataset_name or ""
            metric = claim.metric_type or claim.metric_name or ""
            results.append(
                {"dataset": dataset, "split": claim.dataset_split or "", "metric": metric, "value": claim.value}
            )
    for r in body.results:
        results.append({"dataset": r.dataset or "", "split": r.split or "", "metric": r.metric, "value": r.value})
    return {
        "license": [x for x in facts.licenses if x.lower() not in ("other", "unknown")]
        + [f.name for f in body.of("license")],
        "datasets": facts.datasets + [f.name for f in body.of("dataset")],
        "base_models": facts.base_models + [f.name for f in body.of("base_model")],
        "paper": [f.name for f in body.of("paper", "own")],
        "code": [f.name for f in body.of("code", "own")],
        "hyperparameters": {f.name: f.value or "" for f in body.of("hyperparameter")},
        "hardware": [f.name for f in body.of("hardware")],
        "environment": {f.name: f.value or "" for f in body.of("environment")},
        "limitations": bool(body.of("limitation")),
        "results": results,
    }


# -- matching -----------------------------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _name(text: str) -> str:
    """An id without its owner, its version spelled one way: mozilla-foundation/common_voice_8_0 ->
    commonvoice80; squad_v2 and SQuAD 2.0 -> squad2."""
    name = re.sub(r"\bavg\b", "average", text.rsplit("/", 1)[-1].lower())
    return _norm(re.sub(r"(?<![a-z])v(?=\d)|(?<=\d)\.0(?!\d)", "", name))


_CONFIG = re.compile(r"^(.+?)\s*\(([^()]+)\)\s*$")


def match_dataset(a: str, b: str) -> bool:
    """The same dataset: equal names, or one name inside the other; "librispeech_asr (clean)" and
    "librispeech (clean)", a dataset and its config, match when both parts do."""
    x, y = _name(a), _name(b)
    if x and y and (x == y or (min(len(x), len(y)) >= 4 and (x in y or y in x))):
        return True
    ca, cb = _CONFIG.match(a), _CONFIG.match(b)
    return bool(ca and cb) and _norm(ca[2]) == _norm(cb[2]) and match_dataset(ca[1], cb[1])


def match_id(a: str, b: str) -> bool:
    return _norm(a) == _norm(b) or (_name(a) == _name(b) and len(_name(a)) >= 4)


def _repository(url: str) -> str:
    """github.com/owner/repo of a code link, whatever folder of the repository it points at."""
    return "/".join(url.lower().split("/")[:3])


def match_code(a: str, b: str) -> bool:
    """The same repository: the labels name repositories (github.com/owner/repo); a link may name a folder."""
    return match_id(a, b) or ("github.com/" in a and _repository(a) == _repository(b))


def match_license(a: str, b: str) -> bool:
    return _norm(a) == _norm(b)


_ACCELERATOR = re.compile(r"gb200|b200|h200|a800|a100|v100|h100|h800|h20|"
                          r"a10g?|a6000|a40|l40s?|l4|t4|p100|k80|p40|rtx\s?\d{4}|gtx\s?\d{3,4}|"
                          r"titan|tpu\s*v?\d?|mi\d{3}|cerebras|gaudi|trainium|ascend", re.IGNORECASE)  # fmt: skip


def match_hardware(a: str, b: str) -> bool:
    x = {_norm(m) for m in _ACCELERATOR.findall(a)}
    y = {_norm(m) for m in _ACCELERATOR.findall(b)}
    return bool(x & y) or _norm(a) == _norm(b)


def _number(text: Any) -> float | None:
    parsed = parse_number(str(text))
    return parsed[0] if parsed else None


def _same_value(a: Any, b: Any) -> bool:
    x, y = _number(a), _number(b)
    if x is not None and y is not None and re.fullmatch(r"\s*[-+]?[\d.,e-]+\s*%?\s*", str(a) + "") is not None:
        return abs(x - y) <= 1e-9 + 1e-6 * abs(y)
    return _norm(str(a)) == _norm(str(b)) or (_norm(str(a)) in _norm(str(b)) and len(_norm(str(a))) >= 3)


def match_pair(a: tuple[str, str], b: tuple[str, str]) -> bool:
    return a[0] == b[0] and _same_value(a[1], b[1])


def _metric(name: str) -> str:
    return metric_of(name) or _norm(name)


def match_result(a: dict[str, Any], b: dict[str, Any]) -> bool:
    if _metric(a["metric"]) != _metric(b["metric"]) and a["metric"] and b["metric"]:
        return False
    x, y = float(a["value"]), float(b["value"])
    if not any(abs(x * k - y) <= 1e-6 + 1e-4 * abs(y) for k in (1, 100, 0.01)):
        return False
    da, db = a.get("dataset") or "", b.get("dataset") or ""
    return not da or not db or match_dataset(da, db)


def _pairs(values: dict[str, str], canonical: Callable[[str], str]) -> list[tuple[str, str]]:
    return [(canonical(k), str(v)) for k, v in values.items()]


def _hyper_key(key: str) -> str:
    return hyperparameter_key(key) or key.lower()


def _env_key(key: str) -> str:
    key = key.lower()
    return "pytorch" if key in ("torch", "pytorch") else key


@dataclass
class Score:
    matched: int = 0
    predicted: int = 0
    labelled: int = 0
    misses: list[str] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        return self.matched / self.predicted if self.predicted else None

    @property
    def recall(self) -> float | None:
        return self.matched / self.labelled if self.labelled else None


def _match(pred: list[Any], gold: list[Any], same: Callable[[Any, Any], bool]) -> tuple[int, list[Any], list[Any]]:
    """A maximum one-to-one matching (augmenting paths; a greedy pass can let one loose prediction take
    the label a closer one needed); (matched, unmatched predictions, unmatched labels)."""
    edges = [[j for j, g in enumerate(gold) if same(p, g)] for p in pred]
    owner: dict[int, int] = {}  # label index -> prediction index

    def augment(i: int, seen: set[int]) -> bool:
        for j in edges[i]:
            if j not in seen:
                seen.add(j)
                if j not in owner or augment(owner[j], seen):
                    owner[j] = i
                    return True
        return False

    for i in range(len(pred)):
        augment(i, set())
    taken = set(owner.values())
    extra = [p for i, p in enumerate(pred) if i not in taken]
    missed = [g for j, g in enumerate(gold) if j not in owner]
    return len(owner), extra, missed


def _unique(items: Iterable[Any], same: Callable[[Any, Any], bool]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if not any(same(item, seen) for seen in out):
            out.append(item)
    return out


MATCHERS: dict[str, Callable[[Any, Any], bool]] = {
    "license": match_license,
    "datasets": match_dataset,
    "base_models": match_id,
    "paper": match_id,
    "code": match_code,
    "hardware": match_hardware,
    "hyperparameters": match_pair,
    "environment": match_pair,
    "results": match_result,
}


def score_card(pred: dict[str, Any], gold: dict[str, Any], scores: dict[str, Score], card: str) -> None:
    for name in FIELDS:
        score = scores[name]
        if name == "limitations":
            p, g = bool(pred[name]), bool(gold[name])
            score.predicted += p
            score.labelled += g
            score.matched += p and g
            if p != g:
                score.misses.append(f"{card}: predicted {p}, labelled {g}")
            continue
        same = MATCHERS[name]
        if name == "hyperparameters":
            p_items, g_items = _pairs(pred[name], _hyper_key), _pairs(gold[name], _hyper_key)
        elif name == "environment":
            p_items, g_items = _pairs(pred[name], _env_key), _pairs(gold[name], _env_key)
        else:
            p_items, g_items = list(pred[name]), list(gold[name])
        p_items, g_items = _unique(p_items, same), _unique(g_items, same)
        matched, extra, missed = _match(p_items, g_items, same)
        score.matched += matched
        score.predicted += len(p_items)
        score.labelled += len(g_items)
        if extra or missed:
            score.misses.append(f"{card}: extra {extra} missed {missed}")


def audit_outcomes(entries: list[tuple[dict[str, Any], dict[str, Any], str]], folder: Path) -> list[dict[str, str]]:
    """Each card audited as a local model folder holding its README.md (and an empty config.json)."""
    from ptmscope.audits.run import audit_model

    outcomes = []
    for n, (entry, _, text) in enumerate(entries, start=1):
        model = folder / f"{n:03d}"
        model.mkdir(parents=True, exist_ok=True)
        (model / "README.md").write_text(text, encoding="utf-8")
        (model / "config.json").write_text("{}", encoding="utf-8")  # a model folder needs more than a card
        repo = entry["repo_id"] if not entry["repo_id"].startswith("fixture/") else f"fixture/card-{n:03d}"
        audit = audit_model(str(model), repo_id=repo, context=None, scan=False)
        outcomes.append({check: str(audit.finding(check).outcome) for check in AUDIT_CHECKS})
    return outcomes


def _scores(entries: list[tuple[dict[str, Any], dict[str, Any], str]], groups: dict[str, dict[str, Score]],
            group_of: Callable[[int], tuple[str, ...]]) -> None:  # fmt: skip
    for n, (entry, label, text) in enumerate(entries, start=1):
        pred = predicted(analyse(entry, text))
        card = f"{entry['card']} {entry['repo_id']}"
        for group in group_of(n):
            score_card(pred, label, groups[group], card)


def _agreement(entries: list[tuple[dict[str, Any], dict[str, Any], str]]) -> dict[str, Any]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        outcomes = audit_outcomes(entries, Path(tmp))
    agree, total, disagreements = 0, 0, []
    for n, ((entry, label, _), got) in enumerate(zip(entries, outcomes, strict=True), start=1):
        for check, label_field in AUDIT_CHECKS.items():
            expected = "true" if label[label_field] else "false"
            total += 1
            if got[check] == expected:
                agree += 1
            else:
                disagreements.append(f"{n:03d} {entry['repo_id']} {check}: audit {got[check]}, label {expected}")
    return {"agreement": agree / total, "verdicts": total, "disagreements": disagreements}


def run(*, audit: bool = True) -> dict[str, Any]:
    """Scores per field for the 146 cards (all, tuning, held-out), the dev and the fresh cards, and audit agreement."""
    entries, dev, fresh = load(), [card for folder in DEV for card in load(folder)], load(FRESH)
    groups: dict[str, dict[str, Score]] = {
        g: {f: Score() for f in FIELDS} for g in ("all", "tuning", "held_out", "dev", "fresh")
    }
    _scores(entries, groups, lambda n: ("all", "held_out" if n % 4 == 0 else "tuning"))
    _scores(dev, groups, lambda n: ("dev",))
    _scores(fresh, groups, lambda n: ("fresh",))
    report: dict[str, Any] = {
        group: {f: {"precision": s.precision, "recall": s.recall, "matched": s.matched, "predicted": s.predicted,
                    "labelled": s.labelled} for f, s in scores.items()}
        for group, scores in groups.items()
    }  # fmt: skip
    report["misses"] = {f: s.misses for f, s in groups["all"].items()}
    report["dev_misses"] = {f: s.misses for f, s in groups["dev"].items()}
    report["fresh_misses"] = {f: s.misses for f, s in groups["fresh"].items()}
    report["cards"] = len(entries)
    report["dev_cards"] = len(dev)
    report["fresh_cards"] = len(fresh)
    if audit:
        report["audit"] = _agreement(entries)
        report["dev_audit"] = _agreement(dev)
        report["fresh_audit"] = _agreement(fresh)
    return report


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--misses", action="store_true", help="print every mismatch on the 146 tuning cards")
    parser.add_argument("--dev-misses", action="store_true", help="print the mismatches on the dev cards")
    parser.add_argument(
        "--fresh-misses",
        action="store_true",
        help="print the mismatches on the fresh cards (reading them to tune rules spends the fresh set)",
    )
    parser.add_argument("--no-audit", action="store_true", help="skip the audit agreement (faster)")
    args = parser.parse_args()
    report = run(audit=not args.no_audit)
    if args.json:
        json.dump(report, sys.stdout, indent=1)
        return
    print(
        f"{report['cards']} hand-labelled cards (held-out: every fourth), {report['dev_cards']} dev cards "
        f"(tests/data/cards-fresh to -fresh4: mismatches read) and {report['fresh_cards']} fresh cards "
        f"(tests/data/cards-fresh5, never tuned on)\n"
    )
    print(
        "| field | precision | recall | matched / predicted / labelled | held-out P | held-out R "
        "| dev P | dev R | fresh precision | fresh recall | fresh matched / predicted / labelled |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in FIELDS:
        a, h, d, f = (report[g][name] for g in ("all", "held_out", "dev", "fresh"))
        print(
            f"| {name} | {_fmt(a['precision'])} | {_fmt(a['recall'])} | {a['matched']} / {a['predicted']} / "
            f"{a['labelled']} | {_fmt(h['precision'])} | {_fmt(h['recall'])} | {_fmt(d['precision'])} | "
            f"{_fmt(d['recall'])} | {_fmt(f['precision'])} | {_fmt(f['recall'])} | "
            f"{f['matched']} / {f['predicted']} / {f['labelled']} |"
        )
    if "audit" in report:
        for key, label, cards in (("audit", "", report["cards"]), ("dev_audit", "dev cards: ", report["dev_cards"]),
                                  ("fresh_audit", "fresh cards: ", report["fresh_cards"])):  # fmt: skip
            print(
                f"\n{label}audit verdict agreement: {report[key]['agreement']:.3f} over {report[key]['verdicts']} "
                f"verdicts ({len(AUDIT_CHECKS)} checks x {cards} cards)"
            )
    for flag, prefix in (("misses", ""), ("dev_misses", "dev_"), ("fresh_misses", "fresh_")):
        if not getattr(args, flag):
            continue
        for name, misses in report[f"{prefix}misses" if prefix else "misses"].items():
            print(f"\n## {name}")
            for miss in misses:
                print(" ", miss)
        for line in report.get(f"{prefix}audit", {}).get("disagreements", []):
            print("  audit:", line)


if __name__ == "__main__":
    main()
