"""The model page's lineage drawing: the family by generation, as an inline SVG drawn here.

``Family.generations`` gives the models first reached 1, 2, ... steps up (bases) and down
(derivatives), at most ``PER_LEVEL`` of each generation shown (the most downloaded) and how
many it holds; ``lineage_graph`` joins the risks the audit's lineage found (a licence conflict
on an edge, a base the Hub flagged) and the Hub's flags of the models shown, and carries them
down the edges: a model below a risk inherits it. ``svg`` draws it: one row per generation,
bases above, the model highlighted, every model a link to its page (but one the snapshot does
not hold), "+k more" where a generation holds more than is shown.

Ids are hostile input: every label and title has its control and bidi-override characters made
visible (``reports.safe.strip_controls``) and is HTML-escaped here, every link is the id
percent-encoded under ``/models/``; nothing is fetched, no script, no style attribute (the
classes are styled by ``static/app.css``).
"""

from __future__ import annotations

import math
from html import escape
from typing import Any
from urllib.parse import quote

from markupsafe import Markup

from ptmscope.reports.safe import strip_controls
from ptmscope.web.family import Generations, Member
from ptmscope.web.model_page import hub_flagged

PER_LEVEL = 5
"""Models shown per generation; the rest are counted ("+k more")."""
MAX_INHERITED = 5
"""Inherited risks named per model (the rest counted)."""
FLAGGED = "the Hub flagged files in it"

# Geometry (px): rows of nodes, a column of generation labels on the left. A node is as wide as its graph's longest
# label needs, within MIN_W..MAX_W and the width the widest row leaves (INNER_W): a longer label is cut in its middle.
NODE_H, MORE_W, GAP, ROW_H, LABEL_W, PAD, MIN_W, MAX_W, INNER_W = 40, 118, 14, 76, 104, 8, 150, 330, 1130
NAME_PX, NAMESPACE_PX, TEXT_PAD = 7.25, 6.65, 16
"""Advance of a character of the id's name (12 px) and namespace (11 px), monospace; room beside the text."""


def level_label(level: int) -> str:
    """A generation's name: base models, 2 levels up, this model, derivatives, 2 levels down..."""
    if level == 0:
        return "this model"
    if abs(level) == 1:
        return "base models" if level < 0 else "derivatives"
    return f"{abs(level)} levels {'up' if level < 0 else 'down'}"


def _node(member: Member, level: int, current: bool) -> dict[str, Any]:
    flagged = bool(hub_flagged(member.security_status))
    return {"repo_id": member.repo_id, "level": level, "downloads": member.downloads, "in_snapshot": member.in_snapshot,
            "current": current, "issue": FLAGGED if flagged else None, "inherited": []}  # fmt: skip


def lineage_graph(generations: Generations | None, lineage: dict[str, Any]) -> dict[str, Any] | None:
    """The drawing's document (and its ``svg``) for a model's ``generations`` and its audit's ``lineage``; None when
    the model has no base and no derivative.

    ``{"levels": [{"level", "label", "total", "more", "nodes": [{"repo_id", "level", "downloads", "in_snapshot",
    "current", "issue", "inherited"}]}], "edges": [{"child", "base", "issue"}], "per_level", "svg"}``: ``issue`` a
    node's own risk (the Hub flagged files in it) or an edge's (the lineage's: a licence conflict, a flagged base),
    ``inherited`` the risks above a node that reach it along the edges drawn.
    """
    if generations is None:
        return None
    levels: list[dict[str, Any]] = [{"level": 0, "label": level_label(0), "total": 1, "more": 0,
               "nodes": [_node(generations.model, 0, True)]}]  # fmt: skip
    for level, members in generations.shown.items():
        total = generations.totals[level]
        levels.append({"level": level, "label": level_label(level), "total": total, "more": total - len(members),
                       "nodes": [_node(m, level, False) for m in members]})  # fmt: skip
    levels.sort(key=lambda x: x["level"])
    link_issues = {(a["child"], a["base"]): a["issue"] for a in lineage.get("ancestors", []) if a.get("issue")}
    edges = [{"child": c, "base": b, "issue": link_issues.get((c, b))} for c, b in generations.edges]
    nodes = {n["repo_id"]: n for level in levels for n in level["nodes"]}
    _inherit(nodes, edges)
    graph = {"levels": levels, "edges": edges, "per_level": PER_LEVEL}
    graph["svg"] = svg(graph)
    return graph


def _inherit(nodes: dict[str, dict[str, Any]], edges: list[dict[str, Any]]) -> None:
    """Carry risks down the edges: a node inherits its bases' own and inherited risks and its edges' issues."""
    inherited: dict[str, set[str]] = {name: set() for name in nodes}
    changed = True
    while changed:  # a fixed point: at most one pass per node on the longest path
        changed = False
        for edge in edges:
            base, child = edge["base"], edge["child"]
            found = set(inherited[base])
            if nodes[base]["issue"]:
                found.add(f"{base}: {nodes[base]['issue']}")
            if edge["issue"]:
                found.add(f"{base}: {edge['issue']}")
            if not found <= inherited[child]:
                inherited[child] |= found
                changed = True
    for name, risks in inherited.items():
        nodes[name]["inherited"] = sorted(risks)


# -- drawing ---------------------------------------------------------------------------------------


def _text(value: str) -> str:
    """Data as SVG text or an attribute value: control and bidi characters made visible, then escaped."""
    return escape(strip_controls(value), quote=True)


def _cut(value: str, limit: int) -> str:
    """``value`` (controls already made visible) at most ``limit`` characters, "…" in the middle where it was cut
    (the end of an id tells versions apart: ``-epochs5``, ``-v2``)."""
    if len(value) <= limit:
        return value
    head = max(1, (limit - 1) * 2 // 5)
    return value[:head] + "…" + value[len(value) - (limit - 1 - head) :]


def _parts(repo_id: str) -> tuple[str, str]:
    """The id as shown: its namespace (with the slash; empty for none) and its name, controls made visible."""
    namespace, slash, name = strip_controls(repo_id).partition("/")
    return (namespace + slash, name) if slash else ("", namespace)


def _node_width(levels: list[dict[str, Any]]) -> float:
    """The width of a node: what the longest label needs, within bounds and what the widest row leaves."""
    needed = max(max(len(ns) * NAMESPACE_PX, len(name) * NAME_PX) + TEXT_PAD
                 for level in levels for ns, name in map(_parts, (n["repo_id"] for n in level["nodes"])))  # fmt: skip
    room = min((INNER_W - (MORE_W + GAP if level["more"] else 0)) / len(level["nodes"]) - GAP
               for level in levels if level["nodes"])  # fmt: skip
    return float(math.ceil(max(MIN_W, min(needed, MAX_W, room))))


def _title(node: dict[str, Any]) -> str:
    parts = [node["repo_id"]]
    if node["downloads"] is not None:
        parts.append(f"{node['downloads']:,} downloads")
    if not node["in_snapshot"]:
        parts.append("not in the snapshot")
    if node["issue"]:
        parts.append(f"risk: {node['issue']}")
    inherited = node["inherited"]
    parts += [f"inherits: {risk}" for risk in inherited[:MAX_INHERITED]]
    if len(inherited) > MAX_INHERITED:
        parts.append(f"and {len(inherited) - MAX_INHERITED} more inherited risks")
    return "\n".join(parts)


def _classes(node: dict[str, Any]) -> str:
    classes = ["node"]
    if node["current"]:
        classes.append("current")
    if not node["in_snapshot"]:
        classes.append("missing")
    if node["issue"]:
        classes.append("risk")
    elif node["inherited"]:
        classes.append("inherits")
    return " ".join(classes)


def _draw_node(node: dict[str, Any], x: float, y: float, width: float) -> str:
    """One model: a box with its namespace and name (the full id, downloads and risks in its tooltip)."""
    namespace, name = _parts(node["repo_id"])
    middle = x + width / 2
    name_chars, namespace_chars = int((width - TEXT_PAD) / NAME_PX), int((width - TEXT_PAD) / NAMESPACE_PX)
    shown = escape(_cut(name, name_chars))
    if namespace:
        label = (f'<text class="ns" x="{middle:g}" y="{y + 16:g}">{escape(_cut(namespace, namespace_chars))}</text>'
                 f'<text class="name" x="{middle:g}" y="{y + 32:g}">{shown}</text>')  # fmt: skip
    else:
        label = f'<text class="name" x="{middle:g}" y="{y + 25:g}">{shown}</text>'
    mark = ""
    if node["issue"] or node["inherited"]:
        mark = (f'<circle class="mark" cx="{x + width - 2:g}" cy="{y + 2:g}" r="7"></circle>'
                f'<text class="mark" x="{x + width - 2:g}" y="{y + 6:g}">!</text>')  # fmt: skip
    body = (f"<title>{_text(_title(node))}</title>"
            f'<rect x="{x:g}" y="{y:g}" width="{width:g}" height="{NODE_H}" rx="6"></rect>{label}{mark}')  # fmt: skip
    attributes = f'class="{_classes(node)}" data-repo="{_text(node["repo_id"])}"'
    if node["in_snapshot"] and not node["current"]:
        return f'<a {attributes} href="/models/{escape(quote(node["repo_id"], safe="/"))}">{body}</a>'
    return f"<g {attributes}>{body}</g>"


def _edge(base: tuple[float, float], child: tuple[float, float], edge: dict[str, Any], inherits: bool) -> str:
    """A curve from the base's bottom to the child's top (over the row when both are on one); points: box centres."""
    (x1, by), (x2, cy) = base, child
    if cy > by:
        y1, y2 = by + NODE_H, cy
        bend = (y2 - y1) / 2
        path = f"M{x1:g},{y1:g} C{x1:g},{y1 + bend:g} {x2:g},{y2 - bend:g} {x2:g},{y2:g}"
    else:  # the same row (or above, in a cycle): an arc over the top
        top = min(by, cy) - 28
        path = f"M{x1:g},{by:g} C{x1:g},{top:g} {x2:g},{top:g} {x2:g},{cy:g}"
    kind = "edge risk" if edge["issue"] else "edge inherits" if inherits else "edge"
    title = f"{edge['child']} derives from {edge['base']}" + (f"\n{edge['issue']}" if edge["issue"] else "")
    return f'<path class="{kind}" d="{path}"><title>{_text(title)}</title></path>'


def _ordered(levels: list[dict[str, Any]], edges: list[dict[str, Any]]) -> dict[int, list[dict[str, Any]]]:
    """Each row's nodes in drawing order: outward from the model, by the mean place of the nodes they hang from in
    the row nearer the model (fewer crossing edges), then as listed (most downloaded first)."""
    rows = {level["level"]: level["nodes"] for level in levels}
    ordered: dict[int, list[dict[str, Any]]] = {0: rows.get(0, [])}
    for step in (1, -1):
        level = step
        while level in rows:
            nearer = {n["repo_id"]: i for i, n in enumerate(ordered[level - step])}
            linked: dict[str, list[int]] = {}
            for e in edges:
                here, there = (e["child"], e["base"]) if step > 0 else (e["base"], e["child"])
                if there in nearer:
                    linked.setdefault(here, []).append(nearer[there])
            place = {n["repo_id"]: sum(linked[n["repo_id"]]) / len(linked[n["repo_id"]])
                     for n in rows[level] if n["repo_id"] in linked}  # fmt: skip
            ordered[level] = sorted(rows[level], key=lambda n: place.get(n["repo_id"], len(nearer)))
            level += step
    return ordered


def svg(graph: dict[str, Any]) -> Markup:
    """The drawing of a ``lineage_graph`` document: an ``<svg>`` element to place in the page."""
    levels = graph["levels"]
    width = _node_width(levels)
    rows = [(level, len(level["nodes"]) * (width + GAP) + (MORE_W + GAP if level["more"] else 0) - GAP)
            for level in levels]  # fmt: skip
    inner = max(w for _, w in rows)
    total_w, total_h = LABEL_W + inner + 2 * PAD, 2 * PAD + (len(rows) - 1) * ROW_H + NODE_H
    order = _ordered(levels, graph["edges"])
    places: dict[str, tuple[float, float]] = {}
    parts = []
    for i, (level, row_w) in enumerate(rows):
        y = PAD + i * ROW_H
        x = LABEL_W + PAD + (inner - row_w) / 2
        parts.append(f'<text class="level" x="{PAD}" y="{y + NODE_H / 2 + 4:g}">{_text(level["label"])}</text>')
        for node in order[level["level"]]:
            places[node["repo_id"]] = (x + width / 2, y)
            parts.append(_draw_node(node, x, y, width))
            x += width + GAP
        if level["more"]:
            drawn = len(level["nodes"])
            parts.append(
                f'<g class="more"><title>{_text(level["label"])}: {level["total"]:,} models, {drawn} drawn</title>'
                f'<rect x="{x:g}" y="{y:g}" width="{MORE_W}" height="{NODE_H}" rx="6"></rect>'
                f'<text x="{x + MORE_W / 2:g}" y="{y + 25:g}">+{level["more"]:,} more</text></g>'
            )
    nodes = {n["repo_id"]: n for level in levels for n in level["nodes"]}
    risky = {name for name, n in nodes.items() if n["issue"] or n["inherited"]}
    lines = [_edge(places[e["base"]], places[e["child"]], e, e["base"] in risky)
             for e in graph["edges"] if e["base"] in places and e["child"] in places]  # fmt: skip
    current = next((n["repo_id"] for n in nodes.values() if n["current"]), "")
    return Markup(  # noqa: S704 - drawn here, every piece of data escaped (_text, escape, quote)
        f'<svg class="lineage-graph" width="{total_w:g}" height="{total_h:g}" '
        f'viewBox="0 0 {total_w:g} {total_h:g}" role="group" aria-label="{_text("lineage of " + current)}">'
        f'<g class="edges">{"".join(lines)}</g>{"".join(parts)}</svg>'
    )
