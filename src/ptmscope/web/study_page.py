"""The study as linked bars: every bar of a distribution leads to the models behind it.

The numbers are the study's own (``studies.run.run_study``, what ``ptmscope study --json``
prints) where the study has the figure (Fig. 7 claims per task, licences, weight formats,
Fig. 6 datasets, architectures and evaluation datasets, Fig. 1's most downloaded models,
card sections, what cards document, base models, ``verify``'s discrepancies); tasks,
libraries, languages, licence classes, flagged files and the audit score ranges are counted
over the explorer's index, whose definitions are the study's (the scores: the snapshot's
latest ``audit --all`` run, as the study's ``scores`` measurement reads it). Each bar's link
selects the same models on ``/models``, so the count there is the bar's count; a bar whose
models no facet selects (card sections, evaluation datasets, verdicts) has no link.

Each bar also has its share of the population it belongs to (``of``): the models declaring a
licence, a dataset or an architecture, the models whose file list is known, the task's models,
the text cards, as ``ptmscope study --compare`` divides (``studies.run.compare``). With another
snapshot of the store beside the served one (``compare_figures``), the figures both studies
hold put both snapshots' bars side by side, drawn to the same scale of shares, since the two
snapshots' sizes differ.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from ptmscope.checks.model import ATTRIBUTES
from ptmscope.web.index import ModelIndex
from ptmscope.web.query import SCORE_RANGES, models_url

TOP = 15
HEADLINE_LINKS: dict[str, dict[str, str]] = {"with_claims": {"claims": "yes"},
                                             "safetensors_any": {"format": "safetensors"}}  # fmt: skip
"""Headline figures of a comparison whose models one facet value selects (the count on /models is the bar's)."""


def _share(part: float | None, whole: float | None) -> float | None:
    return None if part is None or not whole else part / whole


def _bar(label: str, value: float, text: str, href: str | None, note: str | None = None, *,
         share: float | None = None, of: int | None = None) -> dict[str, Any]:  # fmt: skip
    return {"label": label, "value": value, "text": text, "href": href, "note": note, "share": share, "of": of}


def _counted(label: str, n: int, of: int | None, href: str | None, note: str | None = None) -> dict[str, Any]:
    """A bar of ``n`` models (or cards, claims) out of ``of``."""
    return _bar(label, n, f"{n:,}", href, note, share=_share(n, of), of=of)


def _figure(key: str, title: str, bars: list[dict[str, Any]], *, unit: str = "models", source: str = "study",
            note: str | None = None, comparable: bool = True, facet: str | None = None) -> dict[str, Any]:  # fmt: skip
    """A figure; ``facet``: the /models facet its bars' labels are values of (None: no facet selects them)."""
    peak = max((b["value"] for b in bars), default=0) or 1
    for b in bars:
        b["width"] = round(100 * b["value"] / peak, 2)
    return {"key": key, "title": title, "unit": unit, "source": source, "note": note, "bars": bars,
            "comparable": comparable, "facet": facet, "compared": False}  # fmt: skip


def _claims_figure(data: dict[str, Any]) -> dict[str, Any]:
    folded = data["measurements"]["claims"]["folded"]
    bars = []
    for task, row in data["claims_by_task"].items():
        tasks = folded if task == "other" else [task]
        share = _share(row["with_claims"], row["total"])
        bars.append(_bar(
            task, round(100 * (share or 0.0), 2), f"{row['with_claims']:,} / {row['total']:,}",
            models_url({"task": tasks, "claims": "yes"}),
            note="tasks where under 0.1% of models claim" if task == "other" else None, share=share, of=row["total"],
        ))  # fmt: skip
    return _figure("fig7", "Fig. 7: models with machine-parseable performance claims, per task", bars, unit="%",
                   note=f"definition: {data['definition']}; a bar leads to the task's models with claims; "
                        "share: of the task's models")  # fmt: skip


def _distribution(ms: dict[str, Any], key: str, title: str, measure: str, facet: str) -> dict[str, Any]:
    """A study distribution (datasets, architectures, licences): its top values and the models declaring none."""
    dist = ms[measure]
    bars = [_counted(name, n, dist["declaring"], models_url({facet: name})) for name, n in dist["counts"].items()]
    none = dist.get("none") if measure != "architectures" else None
    if none:
        bars.append(_counted("(none declared)", none, ms["overview"]["models"], models_url({facet: "none"})))
    note = (f"the top {len(dist['counts'])} of {dist['categories']:,}; share: of the {dist['declaring']:,} models "
            f"declaring one" + (", (none declared) of all models" if none else ""))  # fmt: skip
    return _figure(key, title, bars, note=note, facet=facet)


def _formats_figure(ms: dict[str, Any], zeros: bool = False) -> dict[str, Any]:
    """The weight formats the snapshot has (``zeros``: every format, so a comparison shows a 0 beside the other's)."""
    known = ms["overview"]["file_list_known"]
    bars = [_counted(name, n, known, models_url({"format": name}))
            for name, n in ms["weight_formats"]["any"].items() if n or zeros]  # fmt: skip
    none = ms["weight_formats"]["exclusive"]["no_weight_files"]
    if none:
        bars.append(_counted("(none declared)", none, known, models_url({"format": "none"})))
    return _figure("formats", "Weight formats (models with each)", bars, facet="format",
                   note=f"by file name; share: of the {known:,} models whose file list is known")  # fmt: skip


def _index_figure(index: ModelIndex, key: str, facet: str, title: str) -> dict[str, Any]:
    counts = index.counts(facet)[:TOP]
    bars = [_counted("(none)" if v == "none" else v, n, index.models, models_url({facet: v})) for v, n in counts]
    return _figure(key, title, bars, source="index", note="share: of all models", comparable=False)


def _score_figures(ms: dict[str, Any], index: ModelIndex) -> list[dict[str, Any]]:
    """Per attribute, models per score range (the run's scores); each bar selects its range on /models."""
    scores = ms["scores"]
    if scores.get("run_id") is None:
        return [_figure("scores", "Audit scores", [], source="study", comparable=False, note=scores.get("note"))]
    figures = []
    for attribute in ATTRIBUTES:
        facet = f"score_{attribute}"
        counts = dict(index.counts(facet))
        bars = [_counted(name, counts.get(name, 0), index.models, models_url({facet: name}))
                for name, _, _ in SCORE_RANGES]  # fmt: skip
        if counts.get("none"):
            bars.append(_counted("(no score)", counts["none"], index.models, models_url({facet: "none"})))
        summary = scores["overall"].get(attribute) or {}
        note = (f"audit run {scores['run_id']}; ranges include their lower end (8-10 also 10); "
                f"the study: median {summary.get('median')}, quartiles {summary.get('q1')}–{summary.get('q3')}, "
                f"mean {summary.get('mean')} over {summary.get('scored', 0):,} scored")  # fmt: skip
        figures.append(_figure(f"scores-{attribute}", f"Audit scores: {attribute} (models per score range)", bars,
                               source="index", note=note, comparable=False, facet=facet))  # fmt: skip
    return figures


def _eval_datasets_figure(data: dict[str, Any]) -> dict[str, Any]:
    evals = data["measurements"]["eval_datasets"]
    claims, models = evals["claims"], data["measurements"]["overview"]["models"]
    bars = [_counted(name, n, claims, None) for name, n in evals["counts"].items() if name != "none"]
    if evals["counts"].get("none"):  # the models without claims: exactly /models?claims=no
        n = evals["counts"]["none"]
        bars.append(_counted("(models without claims)", n, models, models_url({"claims": "no"})))
    return _figure("fig6-eval", "Fig. 6: metric claims per evaluation dataset", bars, unit="claims",
                   note=f"as the paper published the panel: claims ({evals['definition']} definition), not models; "
                        f"share: of the {claims:,} claims; no facet selects an evaluation dataset")  # fmt: skip


def _card_sections_figure(ms: dict[str, Any]) -> dict[str, Any]:
    sections, cards = ms["card_sections"]["sections"], ms["card_sections"]["text_cards"]
    ordered = sorted(sections.items(), key=lambda kv: (-kv[1]["filled"], kv[0]))
    bars = [_bar(name.replace("_", " "), v["filled"], f"{v['filled']:,}", None, share=_share(v["filled"], cards),
                 of=cards, note=f"{v['present']:,} have it" if v["present"] != v["filled"] else None)
            for name, v in ordered]  # fmt: skip
    return _figure("card-sections", "Model-card sections (text cards filling each)", bars, unit="cards",
                   note=f"share: of the {cards:,} text cards; a section left as a template placeholder is not filled; "
                        "no facet selects card sections")  # fmt: skip


def _documentation_figure(ms: dict[str, Any]) -> dict[str, Any]:
    doc = ms["documentation"]
    cards = doc["text_cards"]
    labels = (("hyperparameters", "hyper-parameters"), ("hardware", "hardware"),
              ("results_table", "a results table in the text"),
              ("results_table_without_claims", "a results table, no machine-parseable claim"),
              ("usage_code", "usage code"), ("with_placeholders", "template placeholders left in"))  # fmt: skip
    bars = [_counted(label, doc[key], cards, None) for key, label in labels]
    return _figure("documentation", "What model cards document", bars, unit="cards",
                   note=f"share: of the {cards:,} text cards; no facet selects these")  # fmt: skip


def _lineage_figure(ms: dict[str, Any], index: ModelIndex | None) -> dict[str, Any]:
    lineage = ms["lineage"]
    declaring = lineage["declaring"]
    bars = []
    for base, n in lineage["top_bases"].items():
        held = index is not None and index.position(base) is not None
        bars.append(_counted(base, n, declaring, f"/models/{quote(base, safe='/')}" if held else None))
    return _figure("bases", "Base models with the most derived models", bars,
                   note=f"{declaring:,} models declare a base model; share: of them; a bar leads to the base's page, "
                        "which lists its derivatives")  # fmt: skip


def _discrepancy_figure(ms: dict[str, Any]) -> dict[str, Any]:
    found = ms["discrepancies"]
    title = "Table III: claimed vs re-measured performance (ptmscope verify)"
    if not found.get("models"):
        return _figure("discrepancies", title, [], unit="checks", note=found.get("note"))
    checks = found["verifications"]
    labels = (("consistent", "consistent"), ("discrepancy", "discrepancy"), ("overclaimed", "of which overclaimed"),
              ("no_matching_claim", "no matching claim"), ("failed", "failed"))  # fmt: skip
    bars = [_counted(label, found[key], checks, None) for key, label in labels]
    rate = found["discrepancy_rate"]
    note = (f"{checks:,} checks of {found['models']:,} models ({found.get('at_snapshot_revision', 0):,} at the "
            f"snapshot's revision); discrepancy rate {'–' if rate is None else f'{100 * rate:.1f}%'} of the claims "
            f"compared, median gap (claimed − measured) {found['median_gap']}; share: of the checks; a model's page "
            "lists its checks")  # fmt: skip
    return _figure("discrepancies", title, bars, unit="checks", note=note)


def _downloads_figure(ms: dict[str, Any]) -> dict[str, Any]:
    dl = ms["downloads"]
    bars = [_bar(r["repo_id"], r["downloads"], f"{r['downloads']:,}", f"/models/{quote(r['repo_id'], safe='/')}",
                 share=_share(r["downloads"], dl["total"]), of=dl["total"])
            for r in dl["top100"][:20]]  # fmt: skip
    top1, top10 = dl["top1pct_share"], dl["top10pct_share"]
    note = None if top1 is None else (f"the top 1% of models hold {100 * top1:.1f}% of the downloads, the top 10% "
                                      f"{100 * (top10 or 0):.1f}%; share: of all downloads")  # fmt: skip
    return _figure("fig1", "Fig. 1: the most downloaded models", bars, unit="downloads", note=note, comparable=False)


def study_figures(data: dict[str, Any], index: ModelIndex | None) -> list[dict[str, Any]]:
    """The page's figures, each a list of bars with their links.

    ``index``: the served snapshot's (its facets' figures and links); None for a compared snapshot, whose
    figures are the study's only.
    """
    ms = data["measurements"]
    figures = [_claims_figure(data)]
    if index is not None:
        figures += [
            _index_figure(index, "tasks", "task", "Models per task (pipeline tag)"),
            _index_figure(index, "libraries", "library", "Models per library"),
            _index_figure(index, "languages", "language", "Models per declared language"),
        ]
    figures.append(_distribution(ms, "licenses", "Licences (models declaring each)", "licenses", "license"))
    if index is not None:
        figures.append(_index_figure(index, "license_classes", "license_class", "Licence classes"))
    figures += [
        _formats_figure(ms, zeros=index is None),
        _distribution(ms, "datasets", "Fig. 6: models per training dataset", "datasets", "dataset"),
        _distribution(ms, "architectures", "Fig. 6: models per architecture", "architectures", "architecture"),
        _eval_datasets_figure(data),
    ]
    if index is not None:
        figures.append(
            _index_figure(index, "flagged", "flagged", "Flagged files (ptmscope's stored scans, the Hub's scan)")
        )
        figures += _score_figures(ms, index)
    figures += [_card_sections_figure(ms), _documentation_figure(ms), _lineage_figure(ms, index),
                _discrepancy_figure(ms), _downloads_figure(ms)]  # fmt: skip
    return figures


# -- another snapshot beside the served one -------------------------------------------------------------------


def _side(bar: dict[str, Any] | None) -> dict[str, Any] | None:
    return None if bar is None else {k: bar[k] for k in ("value", "text", "share", "of")}


def _served_from_index(label: str, facet: str | None, index: ModelIndex, population: int | None) -> dict[str, Any]:
    """The served snapshot's bar for a value only the compared snapshot's study lists (its facet's count)."""
    if facet is None:
        return _bar(label, 0, "–", None)
    value = "none" if label == "(none declared)" else label
    n = dict(index.counts(facet)).get(value, 0)
    return _counted(label, n, population, models_url({facet: value}))


def _merged(served: dict[str, Any], other: dict[str, Any], index: ModelIndex) -> dict[str, Any]:
    """``served`` with ``other``'s bars beside its own (by label), both drawn on one scale of shares."""
    theirs = {b["label"]: b for b in other["bars"]}
    bars = [dict(b, compare=_side(theirs.get(b["label"]))) for b in served["bars"]]
    population = next((b["of"] for b in served["bars"] if b["label"] != "(none declared)"), None)
    extra = [label for label, b in theirs.items() if b["value"] and label not in {b["label"] for b in bars}]
    for label in extra:
        bar = _served_from_index(label, served["facet"], index, population)
        bars.append(dict(bar, compare=_side(theirs[label])))
    note = served["note"]
    if extra:
        told = ("this snapshot's count of a value only the other's study lists is its facet's, over the index"
                if served["facet"] else "–: a value the study does not list")  # fmt: skip
        note = f"{note}; {told}" if note else told
    none_last = sorted(bars, key=lambda b: b["label"].startswith("("))  # "(none declared)", "(models without ...)"
    peak = max((s for b in none_last for s in (b["share"], (b["compare"] or {}).get("share")) if s), default=0) or 1
    for b in none_last:
        b["width"] = round(100 * (b["share"] or 0) / peak, 2)
        if b["compare"] is not None:
            b["compare"]["width"] = round(100 * (b["compare"]["share"] or 0) / peak, 2)
    return dict(served, bars=none_last, note=note, compared=True)


def _headline_figure(comparison: dict[str, Any]) -> dict[str, Any]:
    """The headline shares of ``studies.run.compare`` (``ptmscope study --compare``), the served snapshot first."""
    bars = []
    for key, row in comparison["headline"].items():
        a, b = row["a"], row["b"]
        if a["share"] is None and b["share"] is None:
            continue
        href = models_url(HEADLINE_LINKS[key]) if key in HEADLINE_LINKS else None
        served = _bar(row["label"], a["count"] or 0, _shown(a), href, share=a["share"], of=a["of"])
        bars.append(dict(served, compare={"value": b["count"], "text": _shown(b), "share": b["share"], "of": b["of"]}))
    figure = _figure("headline", "The two snapshots: headline shares", bars, unit="%",
                     note="shares of each snapshot's own models (or of those whose file list is known, of its text "
                          "cards), as ptmscope study --compare prints them")  # fmt: skip
    return _scaled(figure)


def _scaled(figure: dict[str, Any]) -> dict[str, Any]:
    """A figure whose every bar has both sides, drawn on one scale of shares."""
    peak = max((s for b in figure["bars"] for s in (b["share"], b["compare"]["share"]) if s), default=0) or 1
    for b in figure["bars"]:
        b["width"] = round(100 * (b["share"] or 0) / peak, 2)
        b["compare"]["width"] = round(100 * (b["compare"]["share"] or 0) / peak, 2)
    return dict(figure, compared=True)


def _shown(side: dict[str, Any]) -> str:
    if side["share"] is None:
        return "–"
    count = side["count"]
    if isinstance(count, int) and side["of"]:
        return f"{count:,} of {side['of']:,} ({100 * side['share']:.1f}%)"
    return f"{100 * side['share']:.1f}%"


def compare_figures(served: list[dict[str, Any]], other: list[dict[str, Any]], comparison: dict[str, Any],
                    index: ModelIndex) -> list[dict[str, Any]]:  # fmt: skip
    """The served snapshot's figures with the compared snapshot's bars beside them, where both studies hold the
    figure; first the comparison's headline shares. ``other``: ``study_figures`` of the compared study."""
    theirs = {f["key"]: f for f in other if f["comparable"] and f["bars"]}
    out = [_headline_figure(comparison)]
    for figure in served:
        match = theirs.get(figure["key"]) if figure["comparable"] and figure["bars"] else None
        out.append(_merged(figure, match, index) if match is not None else figure)
    return out
