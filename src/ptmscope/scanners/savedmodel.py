"""TensorFlow SavedModel (``saved_model.pb``): list every op of every graph and function.

The protobuf is decoded from the wire format (``protobuf.py``), so TensorFlow is never
imported. Ops that read or write files or run Python (``ReadFile``, ``WriteFile``,
``PyFunc``, ``EagerPyFunc`` ...) are dangerous; ops outside the standard set in
``STANDARD_OPS`` are suspicious (a custom op needs a native library at load time).
"""

from __future__ import annotations

from ptmscope.scanners.context import BufferLike, PickleContext
from ptmscope.scanners.protobuf import LEN, ProtobufError, Truncation, fields, text

DANGEROUS_OPS: dict[str, str] = {
    "ReadFile": "reads any file",
    "WriteFile": "writes any file",
    "MatchingFiles": "lists files",
    "PyFunc": "runs a Python function",
    "PyFuncStateless": "runs a Python function",
    "EagerPyFunc": "runs a Python function",
    "ImmutableConst": "maps a file into memory",
    "Save": "writes files",
    "SaveSlices": "writes files",
    "PrintV2": "writes to files or streams",
    "DebugIdentityV2": "writes debug dumps",
    "WriteAudioSummary": "writes files",
    "LoadAndRemapMatrix": "reads checkpoint files",
    "FixedLengthRecordDataset": "reads files",
    "TextLineDataset": "reads files",
    "TFRecordDataset": "reads files",
    "ExperimentalLMDBDataset": "reads files",
    "DatasetToTFRecord": "writes files",
    "SnapshotDataset": "writes files",
}

# Ops of standard SavedModels (Keras layers, tf.function plumbing, checkpoint save/restore).
STANDARD_OPS: frozenset[str] = frozenset(
    [
        "Abs",
        "Add",
        "AddN",
        "AddV2",
        "All",
        "Any",
        "ArgMax",
        "ArgMin",
        "Assert",
        "Assign",
        "AssignAddVariableOp",
        "AssignSubVariableOp",
        "AssignVariableOp",
        "AvgPool",
        "AvgPool3D",
        "BatchMatMul",
        "BatchMatMulV2",
        "BatchMatMulV3",
        "BatchToSpaceND",
        "BiasAdd",
        "BiasAddGrad",
        "Bitcast",
        "BroadcastArgs",
        "BroadcastGradientArgs",
        "BroadcastTo",
        "Bucketize",
        "Cast",
        "Ceil",
        "CheckNumerics",
        "Cholesky",
        "ClipByValue",
        "ConcatV2",
        "Const",
        "Conv2D",
        "Conv2DBackpropInput",
        "Conv3D",
        "Conv3DBackpropInputV2",
        "Cos",
        "Cosh",
        "CumSum",
        "Cumsum",
        "DepthToSpace",
        "DepthwiseConv2dNative",
        "DisableCopyOnRead",
        "Einsum",
        "Elu",
        "Empty",
        "EnsureShape",
        "Equal",
        "Erf",
        "Exp",
        "ExpandDims",
        "Fill",
        "Floor",
        "FloorDiv",
        "FloorMod",
        "FusedBatchNorm",
        "FusedBatchNormV3",
        "Gather",
        "GatherNd",
        "GatherV2",
        "Greater",
        "GreaterEqual",
        "HashTableV2",
        "Identity",
        "IdentityN",
        "If",
        "InitializeTableFromTextFileV2",
        "InitializeTableV2",
        "IsFinite",
        "IsNan",
        "L2Loss",
        "LeakyRelu",
        "Less",
        "LessEqual",
        "LinSpace",
        "Log",
        "Log1p",
        "LogicalAnd",
        "LogicalNot",
        "LogicalOr",
        "LogSoftmax",
        "LookupTableFindV2",
        "LookupTableImportV2",
        "LookupTableSizeV2",
        "MatMul",
        "MatrixBandPart",
        "MatrixDiag",
        "Max",
        "MaxPool",
        "MaxPool3D",
        "Maximum",
        "Mean",
        "MergeV2Checkpoints",
        "Min",
        "Minimum",
        "Mod",
        "Mul",
        "MutableHashTableV2",
        "Neg",
        "NoOp",
        "NonMaxSuppressionV5",
        "NotEqual",
        "OneHot",
        "OnesLike",
        "Pack",
        "Pad",
        "PadV2",
        "PartitionedCall",
        "Placeholder",
        "PlaceholderWithDefault",
        "Pow",
        "Prod",
        "RaggedTensorToTensor",
        "RandomStandardNormal",
        "RandomUniform",
        "Range",
        "Rank",
        "ReadVariableOp",
        "RealDiv",
        "Reciprocal",
        "Relu",
        "Relu6",
        "Reshape",
        "ResizeBilinear",
        "ResizeNearestNeighbor",
        "RestoreV2",
        "ReverseV2",
        "Round",
        "Rsqrt",
        "SaveV2",
        "Select",
        "SelectV2",
        "Selu",
        "Shape",
        "ShapeN",
        "ShardedFilename",
        "Sigmoid",
        "Sign",
        "Sin",
        "Sinh",
        "Size",
        "Slice",
        "Softmax",
        "Softplus",
        "Softsign",
        "SpaceToBatchND",
        "SpaceToDepth",
        "SparseToDense",
        "Split",
        "SplitV",
        "Sqrt",
        "Square",
        "SquaredDifference",
        "Squeeze",
        "StatefulPartitionedCall",
        "StatelessIf",
        "StatelessRandomUniformV2",
        "StatelessWhile",
        "StaticRegexFullMatch",
        "StopGradient",
        "StridedSlice",
        "StringJoin",
        "Sub",
        "Sum",
        "Tan",
        "Tanh",
        "TensorListFromTensor",
        "TensorListGetItem",
        "TensorListReserve",
        "TensorListSetItem",
        "TensorListStack",
        "TensorScatterUpdate",
        "Tile",
        "TopKV2",
        "Transpose",
        "TruncatedNormal",
        "Unique",
        "Unpack",
        "UnsortedSegmentSum",
        "VarHandleOp",
        "VarIsInitializedOp",
        "Where",
        "While",
        "Xdivy",
        "Xlog1py",
        "ZerosLike",
        "StringFormat",
        "StringLower",
        "StringSplitV2",
        "RegexReplace",
        "StringToNumber",
        "AsString",
        "Substr",
        "UnicodeDecodeWithOffsets",
        "LookupTableExportV2",
        "LookupTableInsertV2",
        "TensorListLength",
        "TensorListElementShape",
        "Enter",
        "Exit",
        "Merge",
        "Switch",
        "NextIteration",
        "LoopCond",
        "ControlTrigger",
        "Print",
        "Softmax",
        "CropAndResize",
        "DecodeJpeg",
        "DecodePng",
        "EncodeJpeg",
        "FakeQuantWithMinMaxVars",
        "Atan",
        "Atan2",
        "Acos",
        "Asin",
        "Sort",
        "Conv1D",
        "MirrorPad",
        "ResourceGather",
        "ResourceScatterAdd",
        "ResourceScatterUpdate",
        "ResourceApplyAdam",
        "ResourceApplyGradientDescent",
        "VariableV2",
        "Variable",
        "DestroyResourceOp",
        "Qr",
        "SelfAdjointEigV2",
        "Svd",
        "MatrixInverse",
        "MatrixDeterminant",
        "LowerBound",
        "UpperBound",
        "SegmentSum",
        "SegmentMean",
        "Erfc",
        "Lgamma",
        "Digamma",
    ]
)


def _walk_nodes(buf: BufferLike, a: int, b: int, out: list[tuple[str, str, int]], clip: Truncation) -> None:
    """Collect (op, node name, offset) from NodeDefs in a GraphDef or FunctionDef range."""
    name = op = ""
    for num, wire, x, y in fields(buf, a, b, clip):
        if wire == LEN and num == 1:
            name = text(buf, x, y)
        elif wire == LEN and num == 2:
            op = text(buf, x, y)
    out.append((op, name, a))


def _graph(buf: BufferLike, a: int, b: int, out: list[tuple[str, str, int]], clip: Truncation) -> None:
    for num, wire, x, y in fields(buf, a, b, clip):
        if wire != LEN:
            continue
        if num == 1:  # GraphDef.node
            _walk_nodes(buf, x, y, out, clip)
        elif num == 2:  # GraphDef.library -> FunctionDefLibrary.function
            for fnum, fwire, fx, fy in fields(buf, x, y, clip):
                if fnum == 1 and fwire == LEN:
                    for gnum, gwire, gx, gy in fields(buf, fx, fy, clip):
                        if gnum == 3 and gwire == LEN:  # FunctionDef.node_def
                            _walk_nodes(buf, gx, gy, out, clip)


def scan_saved_model(buf: BufferLike, start: int, end: int, ctx: PickleContext, member: str | None) -> None:
    """Record dangerous and non-standard ops of a SavedModel protobuf."""
    ops: list[tuple[str, str, int]] = []
    clip = Truncation()
    try:
        for num, wire, x, y in fields(buf, start, end, clip):
            if num == 2 and wire == LEN:  # SavedModel.meta_graphs
                for mnum, mwire, mx, my in fields(buf, x, y, clip):
                    if mnum == 2 and mwire == LEN:  # MetaGraphDef.graph_def
                        _graph(buf, mx, my, ops, clip)
            ctx.check_time()
    except ProtobufError as error:
        ctx.add("unparseable", "savedmodel-unparseable", f"saved_model.pb is malformed: {error}", member)
    if clip.clipped:
        ctx.add(
            "unparseable",
            "savedmodel-truncated",
            "saved_model.pb is truncated; the ops that could be read were checked",
            member,
        )
    if clip.clipped or any(f.rule == "savedmodel-unparseable" for f in ctx.findings):
        # the damaged part may still name a dangerous op (field 2 of a NodeDef: 0x12, length, name)
        raw = bytes(buf[start : min(end, start + (64 << 20))])
        for op, why in DANGEROUS_OPS.items():
            at = raw.find(b"\x12" + bytes([len(op)]) + op.encode())
            if at >= 0 and op not in {o for o, _, _ in ops}:
                ctx.add(
                    "suspicious",
                    "savedmodel-dangerous-op-name",
                    f"the malformed graph names op {op} ({why})",
                    member,
                    at,
                    op,
                )
    reported: set[str] = set()
    for op, node, offset in ops:
        if op in reported:
            continue
        if op in DANGEROUS_OPS:
            reported.add(op)
            ctx.add(
                "dangerous",
                "savedmodel-dangerous-op",
                f"graph op {op} ({DANGEROUS_OPS[op]}) in node {node!r}",
                member,
                offset - start,
                op,
            )
        elif op and op not in STANDARD_OPS:
            reported.add(op)
            ctx.add(
                "suspicious",
                "savedmodel-unknown-op",
                f"graph op {op} is outside the standard set (custom ops load native code)",
                member,
                offset - start,
                op,
            )
