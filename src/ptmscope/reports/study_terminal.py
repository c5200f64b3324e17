"""The study as rich terminal tables."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from ptmscope.reports.safe import text
from ptmscope.studies import paper


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage, or an en dash when unknown."""
    return "–" if value is None else f"{100 * value:.{digits}f}%"


def num(value: int | None) -> str:
    """A count with thousands separators, or an en dash when unknown."""
    return "–" if value is None else f"{value:,}"


def _bar(fraction: float | None, width: int = 20) -> Text:
    if fraction is None:
        return Text("")
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return Text("█" * filled + "·" * (width - filled), style="cyan")


def _table(title: str, *columns: tuple[str, str]) -> Table:
    table = Table(title=title, title_justify="left", title_style="bold", show_edge=False, pad_edge=False)
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    return table


def _heading(label: str) -> Rule:
    return Rule(Text(label, style="bold magenta"), align="left", style="magenta")


def render_study(data: dict[str, Any]) -> RenderableType:
    """Every table of the study document, in the paper's order, then the figures beyond it."""
    ms = data["measurements"]
    parts: list[RenderableType] = [
        *_header(data),
        *_fig1(ms["downloads"]),
        *_fig6(ms),
        *_fig7(data),
        *_table_iv(data["table_iv"]),
        _heading("Beyond the paper"),
        *_licences_and_formats(ms),
        *_card_documentation(ms),
        *_lineage(ms["lineage"]),
        _scores(ms["scores"]),
    ]
    import_errors = ms["overview"]["import_errors"]
    if import_errors:
        errors = "; ".join(f"{reason} ({n:,})" for reason, n in import_errors.items())
        parts.append(Text.assemble("Records skipped at import: ", text(errors, 600), style="dim"))
    return Group(*(Padding(p, (0, 0, 1, 0)) for p in parts))


def _header(data: dict[str, Any]) -> list[RenderableType]:
    """The snapshot's name, source, size and era; a warning when its run did not finish."""
    snap = data["snapshot"]
    ov = data["measurements"]["overview"]
    header = Text.assemble(
        ("ptmscope study", "bold"),
        "  snapshot ",
        text(snap["name"], 60, "bold cyan"),
        f"  ({snap['source']}, {num(ov['models'])} models",
        f", last modified {ov['last_modified_min'][:10]} … {ov['last_modified_max'][:10]}"
        if ov["last_modified_min"] and ov["last_modified_max"]
        else "",
        ")",
    )
    parts: list[RenderableType] = [header]
    if snap["status"] != "complete":
        parts.append(Text(f"warning: this snapshot is {snap['status']} (its run did not finish)", style="yellow"))
    return parts


def _fig1(dl: dict[str, Any]) -> list[RenderableType]:
    """Fig. 1: how concentrated downloads are, here and in the paper's registries; the top models."""
    parts: list[RenderableType] = [_heading("Fig. 1  Downloads are concentrated in a few packages")]
    conc = _table(
        "",
        ("registry", "left"),
        ("packages", "right"),
        ("downloads", "right"),
        ("top 1% hold", "right"),
        ("top 10% hold", "right"),
    )
    conc.add_row(
        "Hugging Face (this snapshot)",
        num(dl["population"]),
        num(dl["total"]),
        pct(dl["top1pct_share"]),
        pct(dl["top10pct_share"]),
    )
    for registry, values in dl["registries"].items():
        label = {
            "huggingface": "Hugging Face (ICSE'23 artifact)",
            "npm": "npm (ICSE'23 artifact)",
            "pypi": "PyPI (ICSE'23 artifact)",
        }.get(registry, registry)
        conc.add_row(
            text(label),
            num(values.get("population")),
            num(values.get("total")),
            pct(values.get("top1pct_share")),
            pct(values.get("top10pct_share")),
        )
    parts.append(conc)
    top = _table("Most-downloaded models", ("#", "right"), ("model", "left"), ("downloads", "right"))
    for i, row in enumerate(dl["top100"][:10], start=1):
        top.add_row(str(i), text(row["repo_id"], 70), num(row["downloads"]))
    parts.append(top)
    return parts


def _fig6(ms: dict[str, Any]) -> list[RenderableType]:
    """Fig. 6: models per evaluation dataset, training dataset and architecture."""
    return [
        _heading("Fig. 6  Models depend on a few datasets and architectures"),
        _eval_datasets_table(ms["eval_datasets"]),
        _distribution_table("Models per training dataset (card and tags)", "dataset", ms["datasets"], {}),
        _distribution_table(
            "Models per architecture (config model_type)",
            "architecture",
            ms["architectures"],
            {"bert": paper.FIG6_BERT_MODELS},
        ),
    ]


def _fig7(data: dict[str, Any]) -> list[RenderableType]:
    """Fig. 7: performance claims per task, under both definitions, and where front matter was found."""
    ms = data["measurements"]
    ov = ms["overview"]
    parts: list[RenderableType] = [_heading("Fig. 7  Few models make machine-parseable performance claims")]
    cl = ms["claims"]
    parts.append(
        Text.assemble(("definition ", "dim"), (cl["definition"], "bold"), (f": {cl['definition_text']}", "dim"))
    )
    claims = _table(
        "",
        ("task", "left"),
        ("with claims", "right"),
        ("models", "right"),
        ("share", "right"),
        ("", "left"),
        ("results only in text", "right"),
        ("paper (Aug 2022)", "right"),
    )
    for task, values in data["claims_by_task"].items():
        fraction = values["with_claims"] / values["total"] if values["total"] else None
        published = paper.FIG7_CLAIMS_BY_TASK.get(task)
        claims.add_row(
            text(task, 40),
            num(values["with_claims"]),
            num(values["total"]),
            pct(fraction),
            _bar(fraction),
            num(values.get("text_only")),
            f"{published[0]:,}/{published[1]:,}" if published else "",
        )
    parts.append(claims)
    other = cl["other_definition"]
    parts.append(
        Text(
            f"{num(cl['models_with_claims'])} of {num(ov['models'])} models ({pct(cl['share_with_claims'])}) claim "
            f"results in their model-index ({num(other['models_with_claims'])} under the {other['definition']} "
            f"definition); {num(cl.get('results_only_in_text'))} more report results only in their text, where a "
            f"reader sees them and a tool does not. Folded into other (under 0.1% of their models claim): "
            f"{', '.join(cl['folded']) or 'none'}. {num(cl['invalid_model_index'])} cards have a model-index that "
            "huggingface_hub rejects.",
            style="dim",
        )
    )
    parts.append(_differences_table(ms["claim_definitions"]))
    parts.append(_front_matter_text(ms["front_matter"]))
    return parts


def _table_iv(rows: list[dict[str, Any]]) -> list[RenderableType]:
    """Table IV: the supply-chain risks this snapshot can measure, beside the paper's."""
    heading = _heading("Table IV  Supply-chain risks (STRIDE) this snapshot can measure")
    risks = _table("", ("threat", "left"), ("factor", "left"), ("this snapshot", "left"), ("paper", "left"))
    for row in rows:
        risks.add_row(
            row["threat"],
            row["factor"],
            text(row["value"], 400, "" if row["measured"] else "dim italic"),
            Text(row["paper"], "dim"),
        )
    return [heading, risks]


def _licences_and_formats(ms: dict[str, Any]) -> list[RenderableType]:
    """Models per licence, and per weight format."""
    parts: list[RenderableType] = []
    lic = ms["licenses"]
    parts.append(
        _distribution_table(
            f"Licences ({num(lic['without_license'])} models, {pct(lic['share_without_license'])}, declare none)",
            "licence",
            lic,
            {},
        )
    )
    wf = ms["weight_formats"]
    formats = _table("Weight formats (by file name)", ("class", "left"), ("models", "right"))
    for key, value in wf["exclusive"].items():
        formats.add_row(key.replace("_", " "), num(value))
    any_formats = ", ".join(f"{k} {num(v)}" for k, v in wf["any"].items() if v)
    parts.append(formats)
    parts.append(Text(f"models with each format: {any_formats or 'none'}", style="dim"))
    return parts


def _card_documentation(ms: dict[str, Any]) -> list[RenderableType]:
    """Which model-card sections are present and filled, and what the cards document."""
    parts: list[RenderableType] = []
    cs = ms["card_sections"]
    sections = _table(
        f"Model-card sections ({num(cs['text_cards'])} text cards)",
        ("section", "left"),
        ("present", "right"),
        ("filled", "right"),
        ("filled share", "right"),
    )
    for name, values in sorted(cs["sections"].items(), key=lambda kv: -kv[1]["filled"]):
        sections.add_row(
            name.replace("_", " "), num(values["present"]), num(values["filled"]), pct(values["share_filled"])
        )
    parts.append(sections)
    doc = ms["documentation"]
    parts.append(
        Text(
            f"Cards documenting hyper-parameters: {num(doc['hyperparameters'])} ({pct(doc['share_hyperparameters'])}); "
            f"hardware: {num(doc['hardware'])} ({pct(doc['share_hardware'])}); a results table: "
            f"{num(doc['results_table'])} ({num(doc['results_table_without_claims'])} of them without "
            f"machine-parseable claims); template placeholders left in: {num(doc['with_placeholders'])}."
        )
    )
    return parts


def _lineage(lin: dict[str, Any]) -> list[RenderableType]:
    """The base models most derived from, relations and chain depths (or a line saying none is declared)."""
    parts: list[RenderableType] = []
    if lin["declaring"]:
        lineage = _table(
            f"Base models ({num(lin['declaring'])} models, {pct(lin['share_declaring'])}, declare one)",
            ("base model", "left"),
            ("derived models", "right"),
        )
        for base, count in lin["top_bases"].items():
            lineage.add_row(text(base, 70), num(count))
        parts.append(lineage)
        relations = ", ".join(f"{k} {num(v)}" for k, v in lin["relations"].items())
        relations += "; declared in " + ", ".join(f"{k} {num(v)}" for k, v in lin.get("declared_in", {}).items())
        depths = ", ".join(f"depth {k}: {num(v)}" for k, v in lin["depth_histogram"].items())
        parts.append(Text(f"relations: {relations}; chain depth inside the snapshot: {depths}", style="dim"))
    else:
        parts.append(Text("Base models: no model in this snapshot declares one.", style="dim"))
    return parts


def _scores(sc: dict[str, Any]) -> RenderableType:
    """The attribute scores of the snapshot's audit run, or why there are none."""
    if sc["run_id"] is not None:
        table = _table(f"Attribute scores (audit run {sc['run_id']})", ("attribute", "left"), ("scored", "right"),
                       ("inconclusive", "right"), ("mean", "right"), ("q1", "right"), ("median", "right"),
                       ("q3", "right"))  # fmt: skip
        for attribute, v in sc["overall"].items():
            table.add_row(attribute, num(v["scored"]), num(v["inconclusive"]), *(
                "–" if v[k] is None else f"{v[k]:.2f}" for k in ("mean", "q1", "median", "q3")))  # fmt: skip
        return table
    return Text(f"Attribute scores: {sc['note']}.", style="dim")


def _eval_datasets_table(ev: dict[str, Any]) -> Table:
    published = paper.FIG6_EVAL_DATASET_CLAIMS
    table = _table(
        f"Claims per evaluation dataset, as the published panel counts them ({ev['definition']} definition)",
        ("dataset", "left"),
        ("claims", "right"),
        ("paper (Aug 2022)", "right"),
    )
    for name, count in ev["counts"].items():
        label = Text("models without claims", style="italic") if name == "none" else text(name, 60)
        if name == "other":
            label = Text("other", style="italic")
        table.add_row(label, num(count), num(published.get(name)) if name in published else "")
    table.caption = (
        f"{num(ev['claims'])} claims on {num(ev['datasets'])} datasets; 'none' counts models, the rest claims "
        "(universal_dependencies' 6,834 in the paper are claims, not models)"
    )
    table.caption_justify = "left"
    return table


def _differences_table(cd: dict[str, Any]) -> RenderableType:
    if not cd["differences"]:
        return Text("The strict and the paper's definitions count the same models.", style="dim")
    table = _table(
        f"Why the definitions differ: {num(cd['strict_only'])} models counted only by strict, "
        f"{num(cd['paper_only'])} only by the paper's code",
        ("counted by", "left"),
        ("models", "right"),
        ("rule", "left"),
        ("for example", "left"),
    )
    for d in cd["differences"]:
        table.add_row(d["counted_by"], num(d["models"]), Text(d["text"]), text(", ".join(d["examples"]), 120))
    excluded = "; ".join(f"{k.replace('_', ' ')} {num(v['claims'])} ({num(v['models'])} models)"
                         for k, v in cd["excluded"].items())  # fmt: skip
    table.caption = f"claim rows strict leaves out: {excluded or 'none'}"
    table.caption_justify = "left"
    return table


def _front_matter_text(fm: dict[str, Any]) -> Text:
    rescued = ", ".join(f"{k.replace('_', ' ')} {num(v)}" for k, v in fm["rescued"].items()) or "none"
    ignored = ", ".join(f"{k.replace('_', ' ')} {num(v)}" for k, v in fm["ignored"].items()) or "none"
    return Text(
        f"Card metadata read {fm['rule_text']}. Cards read only by that rule's leniency: {rescued}; "
        f"blocks it did not read: {ignored}.",
        style="dim",
    )


def _distribution_table(title: str, label: str, dist: dict[str, Any], published: dict[str, int]) -> Table:
    columns: list[tuple[str, str]] = [(label, "left"), ("models", "right"), ("share of declaring", "right")]
    if published:
        columns.append(("paper", "right"))
    table = _table(title, *columns)
    declaring = dist["declaring"]
    for name, count in dist["counts"].items():
        row: list[RenderableType] = [text(name, 60), num(count), pct(count / declaring if declaring else None)]
        if published:
            row.append(num(published.get(name)) if name in published else "")
        table.add_row(*row)
    other: list[RenderableType] = [
        Text("other", style="italic"),
        num(dist["other"]),
        pct(dist["other"] / declaring if declaring else None),
    ]
    none: list[RenderableType] = [Text("none declared", style="italic"), num(dist["none"]), ""]
    if published:
        other.append(num(published.get("other")) if "other" in published else "")
        none.append(num(published.get("none")) if "none" in published else "")
    table.add_row(*other)
    table.add_row(*none)
    table.caption = (
        f"top 1 holds {pct(dist['top1_share'])} and the top 10 {pct(dist['top10_share'])} of "
        f"{num(declaring)} declaring models"
    )
    table.caption_justify = "left"
    return table


def render_compare(doc: dict[str, Any]) -> RenderableType:
    """Two studies side by side, as shares of each snapshot's own population."""
    a, b = doc["a"]["name"], doc["b"]["name"]
    head = _table(
        f"What changed (shares of each snapshot's own models; change: {a} minus {b}, in percentage points)",
        ("models that…", "left"),
        (a[:30], "right"),
        (b[:30], "right"),
        ("change", "right"),
    )
    for values in doc["headline"].values():
        head.add_row(values["label"], _figure(values["a"]), _figure(values["b"]), _points(values["change"]))
    tasks = _table(
        f"Fig. 7  claims per task ({doc['definition']} definition)", ("task", "left"), (a[:30], "right"),
        (b[:30], "right"),
    )  # fmt: skip
    for task, values in doc["claims_by_task"].items():
        tasks.add_row(text(task, 40), _ratio(values["a"]), _ratio(values["b"]))
    parts: list[RenderableType] = [
        Text.assemble(("ptmscope study --compare  ", "bold"), text(a, 40, "cyan"), "  vs  ", text(b, 40, "cyan")),
        *(Text(f"note: {text(c, 300)}", style="yellow") for c in doc["caveats"]),
        head,
        tasks,
    ]
    for key, title in (
        ("weight_formats", "Weight formats (share of models whose file list is known)"),
        ("licenses", "Licences (share of models declaring one)"),
        ("models_per_architecture", "Architectures (share of models declaring one)"),
        ("models_per_dataset", "Training datasets (share of models declaring one)"),
    ):
        table = _table(title, ("", "left"), (a[:30], "right"), (b[:30], "right"))
        for name, values in doc[key].items():
            table.add_row(text(name, 60), _figure(values["a"]), _figure(values["b"]))
        parts.append(table)
    return Group(*(Padding(p, (0, 0, 1, 0)) for p in parts))


def _figure(value: dict[str, Any] | None) -> str:
    if not value:
        return "–"
    if value.get("of") is None and value.get("share") is not None and value.get("count") == value.get("share"):
        return pct(value["share"], 1)
    count = num(value.get("count"))
    return count if value.get("share") is None else f"{count} ({pct(value['share'])})"


def _points(change: float | None) -> str:
    return "" if change is None else f"{change:+.1f}"


def _ratio(values: dict[str, int] | None) -> str:
    if not values:
        return "–"
    share = values["with_claims"] / values["total"] if values["total"] else None
    return f"{values['with_claims']:,}/{values['total']:,} ({pct(share)})"


def print_study(data: dict[str, Any], console: Console | None = None) -> None:
    """Print the study document to the terminal."""
    (console or Console()).print(render_study(data))
