"""Portability checks (Table I): can this model be used here: licence, formats, frameworks, size?"""

from __future__ import annotations

from ptmscope.checks.registry import Rule, check

# Any weight file at all, in any format.
_WEIGHTS = "(has_safetensors OR has_pickle OR has_onnx OR has_gguf OR has_tflite OR has_coreml OR has_tf OR has_flax)"


@check("declares_license", attribute="portability", needs={"metadata", "card"}, tags=("license",))
def declares_license() -> Rule:
    """Does the model declare a licence?"""
    return Rule(
        outcome="""CASE WHEN len(licenses) > 0 THEN 'true' WHEN NOT card_known THEN 'not_available'
                       ELSE 'false' END""",
        evidence="array_to_string(licenses, ', ')",
    )


@check("license_is_spdx", attribute="portability", needs={"metadata", "card"}, tags=("license",))
def license_is_spdx() -> Rule:
    """Is the declared licence one SPDX recognises (so tools and lawyers know exactly what it is)?"""
    return Rule(
        outcome="""CASE WHEN len(licenses) = 0 THEN 'not_applicable'
                       WHEN len(spdx_licenses) > 0 THEN 'true' ELSE 'false' END""",
        evidence="""CASE WHEN len(spdx_licenses) > 0 THEN array_to_string(spdx_licenses, ', ')
                        WHEN len(licenses) > 0 THEN array_to_string(licenses, ', ') || ' has no SPDX identifier' END""",
    )


@check("license_is_permissive", attribute="portability", needs={"metadata", "card"}, tags=("license",))
def license_is_permissive() -> Rule:
    """Is the licence permissive (use, modify and redistribute, commercially too, without passing terms on)?"""
    return Rule(
        outcome="""CASE WHEN len(licenses) = 0 THEN 'not_applicable'
                       WHEN list_has_any(license_kinds, ['other', 'unrecognised']) THEN 'not_available'
                       WHEN len(list_filter(license_kinds, lambda x: x NOT IN ('permissive', 'public-domain'))) = 0
                       THEN 'true' ELSE 'false' END""",
        evidence="array_to_string(licenses, ', ') || ' (' || array_to_string(license_kinds, ', ') || ')'",
    )


@check("license_compatible_with_base", attribute="portability", needs={"metadata", "card"}, tags=("license", "lineage"))
def license_compatible_with_base() -> Rule:
    """Is the model's licence compatible with the licence of the model it derives from?"""
    return Rule(
        outcome="""CASE WHEN len(base_models) = 0 THEN 'not_applicable'
                       WHEN license_conflict_any THEN 'false'
                       WHEN license_compatible_any THEN 'true' ELSE 'not_available' END""",
        evidence="""CASE WHEN license_conflict_any THEN license_conflict
                        WHEN NOT license_compatible_any AND len(base_models) > 0
                        THEN 'the licence of the model or of its base is unknown or custom' END""",
    )


@check("has_safetensors_weights", attribute="portability", needs={"files"})
def has_safetensors_weights() -> Rule:
    """Are the weights offered as safetensors (loadable by every framework without running code)?"""
    return Rule(
        outcome=f"""CASE WHEN NOT files_known THEN 'not_available' WHEN has_safetensors THEN 'true'
                        WHEN NOT {_WEIGHTS} THEN 'not_applicable' ELSE 'false' END""",
    )


@check("offers_portable_format", attribute="portability", needs={"files"})
def offers_portable_format() -> Rule:
    """Is there a runtime-portable format (ONNX, TFLite, Core ML or GGUF) for deployment outside Python?"""
    return Rule(
        outcome=f"""CASE WHEN NOT files_known THEN 'not_available'
                        WHEN has_onnx OR has_tflite OR has_coreml OR has_gguf THEN 'true'
                        WHEN NOT {_WEIGHTS} THEN 'not_applicable' ELSE 'false' END""",
        evidence="""nullif(array_to_string(list_filter([CASE WHEN has_onnx THEN 'ONNX' END,
                    CASE WHEN has_tflite THEN 'TFLite' END, CASE WHEN has_coreml THEN 'Core ML' END,
                    CASE WHEN has_gguf THEN 'GGUF' END], lambda x: x IS NOT NULL), ', '), '')""",
    )


@check("offers_quantized_variant", attribute="portability", needs={"metadata", "files"})
def offers_quantized_variant() -> Rule:
    """Is a quantized variant available (in the repository, or as a derived model in the snapshot)?"""
    return Rule(
        outcome="""CASE WHEN has_quantized_files OR quantization IS NOT NULL OR quantized_variants > 0 THEN 'true'
                       WHEN NOT files_known THEN 'not_available' ELSE 'false' END""",
        evidence="""CASE WHEN quantization IS NOT NULL THEN 'quantized (' || quantization || ')'
                        WHEN has_quantized_files THEN 'quantized weight files in the repository'
                        WHEN quantized_variants > 0
                        THEN quantized_variants || ' quantized derivative(s) in the snapshot'
                   END""",
    )


@check("supports_several_frameworks", attribute="portability", needs={"metadata", "files"})
def supports_several_frameworks() -> Rule:
    """Do the weights come for more than one framework (PyTorch, TensorFlow, JAX/Flax, ONNX...)?"""
    frameworks = (
        "len(list_distinct(list_filter(framework_tags || [CASE WHEN has_pickle OR has_safetensors THEN 'pytorch' END,"
        " CASE WHEN has_tf THEN 'tf' END, CASE WHEN has_flax THEN 'jax' END, CASE WHEN has_onnx THEN 'onnx' END,"
        " CASE WHEN has_gguf THEN 'gguf' END], lambda x: x IS NOT NULL AND x <> 'safetensors')))"
    )
    return Rule(
        outcome=f"CASE WHEN NOT files_known THEN 'not_available' WHEN {frameworks} >= 2 THEN 'true' ELSE 'false' END",
        evidence=f"{frameworks} || ' framework(s)'",
    )


@check("states_parameter_count", attribute="portability", needs={"metadata"}, info=True)
def states_parameter_count() -> Rule:
    """Is the parameter count known, so memory needs can be estimated by dtype?"""
    return Rule(
        outcome="CASE WHEN parameters IS NULL THEN 'not_available' ELSE 'true' END",
        evidence="""CASE WHEN parameters IS NOT NULL THEN parameters || ' parameters; weights need about '
                        || round(parameters * 4 / 1e9, 2) || ' GB in fp32, '
                        || round(parameters * 2 / 1e9, 2) || ' GB in fp16/bf16, '
                        || round(parameters / 1e9, 2) || ' GB in int8, '
                        || round(parameters / 2e9, 2) || ' GB in int4' END""",
    )


@check("documents_finetuning", attribute="portability", needs={"card"})
def documents_finetuning() -> Rule:
    """Does the card explain how to fine-tune the model?"""
    return Rule(
        outcome="""CASE WHEN mentions_finetuning IS NULL THEN CASE WHEN card_present = false THEN 'false'
                                                                  ELSE 'not_available' END
                       WHEN mentions_finetuning THEN 'true' ELSE 'false' END""",
    )


@check("documents_latency_or_cost", attribute="portability", needs={"card"})
def documents_latency_or_cost() -> Rule:
    """Does the card state latency, throughput or cost, so deployment can be planned?"""
    return Rule(
        outcome="""CASE WHEN mentions_latency IS NULL THEN CASE WHEN card_present = false THEN 'false'
                                                               ELSE 'not_available' END
                       WHEN mentions_latency THEN 'true' ELSE 'false' END""",
    )
