"""The audited model as a CycloneDX 1.6 ML-BOM, built with cyclonedx-python-lib.

The BOM's subject is the model (type ``machine-learning-model``), identified by its
package URL (``model_purl``), with its licences, its files as nested ``file`` components
with their SHA-256 hashes where known, its paper and code as external references, its
training datasets as ``data`` components and its base models as components it depends on.
``metadata.tools`` names ptmscope. cyclonedx-python-lib does not model CycloneDX's
``modelCard`` yet, so that object (task, architecture, datasets, the claimed performance
metrics) is added to the serialised JSON, following the 1.6 schema; tests validate the
result against it.

Files are nested components, never the model's own ``hashes``: a Hub model is a
repository of files (config, tokenizer, weights often sharded), no one of which is the
model, and the CycloneDX ML-BOM guidance puts a file's hash on a ``file`` component.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from ptmscope import __version__

if TYPE_CHECKING:
    from packageurl import PackageURL

ML_MODEL_REF = "model:"
DATASET_REF = "dataset:"
HUB = "https://huggingface.co"
"""The huggingface purl type's default repository: a purl names another only in ``repository_url``."""
HUB_SOURCES = frozenset({"hub", "snapshot", "hf-cache"})
"""Audit sources whose repo id is a Hub repo id (a plain folder's is its name or ``--repo-id``)."""
_COMMIT = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")


# cyclonedx-python-lib takes about half a second to import and only ``audit --cyclonedx`` needs it,
# so the two functions below import it when a BOM is made, not when the CLI imports this module.


def _licenses(doc: dict[str, Any]) -> list[Any]:
    try:
        from cyclonedx.contrib.license.factories import LicenseFactory  # only when a BOM is made (see above)
    except ImportError:  # cyclonedx-python-lib < 11.x kept it here
        from cyclonedx.factory.license import LicenseFactory

    factory = LicenseFactory()
    facts = doc["facts"]
    spdx = facts.get("spdx_licenses") or []
    names = [n for n in (facts.get("licenses") or []) if n not in {s.lower() for s in spdx}]
    out = []
    for value in [*spdx, *names]:
        try:
            out.append(factory.make_from_string(str(value)))
        except ValueError:
            continue
    return out


def model_purl(model_info: dict[str, Any], endpoint: str | None = None) -> PackageURL | None:
    """The model's package URL, ``pkg:huggingface/<owner>/<name>@<commit>`` (purl type ``huggingface``).

    ``model_info`` is the audit document's ``model``. The namespace is the owner and the name the
    model, both as the Hub spells them (the type is case-sensitive for both); the version is the
    commit, lowercased as the type requires, and left out when unknown or not a commit hash. A
    legacy id without an owner (``bert-base-uncased``) has no namespace, as in the type's own
    example. ``repository_url`` is added only when ``endpoint`` is given and is not the Hub. A plain
    folder gets none: its repo id is only its name (or ``--repo-id``), and no Hub commit is known.
    """
    from packageurl import PackageURL  # comes with cyclonedx-python-lib; only a BOM needs it

    if model_info.get("source") not in HUB_SOURCES:
        return None
    repo_id = str(model_info.get("repo_id") or "")
    owner, _, name = repo_id.rpartition("/")
    if not name or "/" in owner or repo_id.startswith("/"):  # not owner/name nor a legacy name
        return None
    sha = str(model_info.get("sha") or "")
    commit = sha.lower() if _COMMIT.fullmatch(sha) else None
    base = (endpoint or "").rstrip("/")
    qualifiers = {"repository_url": base} if base and base != HUB else None
    return PackageURL(type="huggingface", namespace=owner or None, name=name, version=commit, qualifiers=qualifiers)


def audit_bom(doc: dict[str, Any], audit: Any = None, *, endpoint: str | None = None) -> str:
    """The ML-BOM of an audited model, as CycloneDX 1.6 JSON text.

    ``audit`` (the ``ModelAudit``) gives the files and claims; ``endpoint`` the Hub the model
    was fetched from, for the purl's ``repository_url`` (default: the audit's ``endpoint``, if any).
    """
    # cyclonedx-python-lib only when a BOM is made (see above)
    from cyclonedx.model import ExternalReference, ExternalReferenceType, HashAlgorithm, HashType, Property, XsUri
    from cyclonedx.model.bom import Bom  # only when a BOM is made
    from cyclonedx.model.component import Component, ComponentType  # only when a BOM is made
    from cyclonedx.output.json import JsonV1Dot6  # only when a BOM is made

    model_info = doc["model"]
    facts = doc["facts"]
    repo_id = model_info["repo_id"]
    files = getattr(audit, "files", None) or []
    file_components = []
    for f in files:
        digest = str(f.get("sha256") or "")  # a Hub LFS oid is the file's sha256; a git blob id is not stored here
        hashes = [HashType(alg=HashAlgorithm.SHA_256, content=digest.lower())] if _SHA256.fullmatch(digest) else []
        file_components.append(
            Component(name=f["path"], type=ComponentType.FILE, hashes=hashes, bom_ref=f"file:{repo_id}/{f['path']}")
        )
    references = []
    for link in facts.get("paper_links") or []:
        kind, _, target = str(link).partition(":")
        url = f"https://arxiv.org/abs/{target}" if kind == "arxiv" else f"https://doi.org/{target}"
        references.append(ExternalReference(type=ExternalReferenceType.CITATION, url=XsUri(url)))
    for repo in facts.get("github_links") or []:
        references.append(ExternalReference(type=ExternalReferenceType.VCS, url=XsUri(f"https://github.com/{repo}")))
    properties = [
        Property(name=f"ptmscope:score:{attribute}", value="inconclusive" if s["score"] is None else str(s["score"]))
        for attribute, s in doc["scores"].items()
    ]
    properties += [Property(name="ptmscope:risk", value=f"{''.join(r['stride'])}: {r['check']}") for r in doc["risks"]]
    purl = model_purl(model_info, endpoint if endpoint is not None else getattr(audit, "endpoint", None))
    model = Component(
        name=repo_id,
        type=ComponentType.MACHINE_LEARNING_MODEL,
        version=model_info["sha"] or None,
        purl=purl,
        bom_ref=purl.to_string() if purl is not None else f"{ML_MODEL_REF}{repo_id}",
        group=repo_id.split("/")[0] if "/" in repo_id else None,
        licenses=_licenses(doc),
        external_references=references,
        properties=properties,
        components=file_components,
    )
    bom = Bom()
    bom.metadata.component = model
    bom.metadata.tools.components.add(Component(type=ComponentType.APPLICATION, name="ptmscope", version=__version__))
    datasets = []
    for name in facts.get("datasets") or []:
        dataset = Component(name=str(name), type=ComponentType.DATA, bom_ref=f"{DATASET_REF}{name}")
        bom.components.add(dataset)
        datasets.append(dataset)
    bases = []
    for link in doc["lineage"]["ancestors"]:
        if link["depth"] != 1:
            continue
        base = Component(
            name=link["base"],
            type=ComponentType.MACHINE_LEARNING_MODEL,
            bom_ref=f"{ML_MODEL_REF}{link['base']}",
            properties=[Property(name="ptmscope:relation", value=link["relation"] or "unspecified")],
        )
        bom.components.add(base)
        bases.append(base)
    bom.register_dependency(model, [*bases, *datasets])
    for component in [*bases, *datasets]:
        bom.register_dependency(component, [])
    document = json.loads(JsonV1Dot6(bom).output_as_string())
    document["metadata"]["component"]["modelCard"] = _model_card(doc, audit)
    return json.dumps(document, indent=2, ensure_ascii=False)


def _model_card(doc: dict[str, Any], audit: Any) -> dict[str, Any]:
    facts = doc["facts"]
    parameters: dict[str, Any] = {}
    if facts.get("pipeline_tag"):
        parameters["task"] = facts["pipeline_tag"]
    if facts.get("model_type"):
        parameters["architectureFamily"] = facts["model_type"]
    if facts.get("datasets"):
        parameters["datasets"] = [{"ref": f"{DATASET_REF}{d}"} for d in facts["datasets"]]
    card: dict[str, Any] = {"modelParameters": parameters}
    metrics = []
    for claim in getattr(audit, "claims", None) or []:
        value = claim.get("value_text")
        if value is None:
            continue
        metric: dict[str, Any] = {"type": str(claim.get("metric_type") or claim.get("metric_name") or "metric"),
                                  "value": str(value)}  # fmt: skip
        slice_ = " ".join(str(v) for v in (claim.get("dataset_type") or claim.get("dataset_name"),
                                           claim.get("dataset_split")) if v)  # fmt: skip
        if slice_:
            metric["slice"] = slice_
        metrics.append(metric)
    if metrics:
        card["quantitativeAnalysis"] = {"performanceMetrics": metrics}
    limitations = [f"{r['check']}: {r['evidence'] or r['question']}" for r in doc["risks"]]
    if limitations:
        card["considerations"] = {"technicalLimitations": limitations}
    return card
