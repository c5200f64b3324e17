"""What a pickle may import: the allow and deny lists, as data, with the reason for each.

A pickle runs code only through the callables it imports (GLOBAL, STACK_GLOBAL, INST, EXT)
and then calls (REDUCE, NEWOBJ, OBJ, INST, BUILD's ``__setstate__``). Every import is
classified here:

* **safe**: on ``SAFE_GLOBALS`` / ``SAFE_PATTERNS``: what real checkpoints import (torch
  rebuild helpers and storages, numpy reconstruct and dtypes, collections, plain builtins
  constructors). Modelled on the allowlist of torch's ``weights_only`` loader.
* **dangerous**: on ``DANGEROUS_MODULES`` (the module or any submodule) or
  ``DANGEROUS_GLOBALS`` (one name in a module): code execution, process, file, network or
  import machinery, nested unpicklers. It covers every GHSA sample in the test corpora.
* **suspicious**: anything else. An unknown callable is not proof of an attack, but
  ``pickle`` will import and may call it, so a careful team wants to look.

The deny check runs first, so a name can never be both. Python 2 names are mapped the way
``pickle`` maps them (``__builtin__`` -> ``builtins``) and both spellings are checked.
"""

from __future__ import annotations

import _compat_pickle
import re
from collections.abc import Sequence
from typing import Literal

ImportVerdict = Literal["safe", "suspicious", "dangerous"]

# module -> why importing anything from it (or a submodule) is dangerous.
DANGEROUS_MODULES: dict[str, str] = {
    "os": "process and file-system access (os.system, os.popen, os.exec*)",
    "posix": "os under its POSIX name",
    "nt": "os under its Windows name",
    "_posixsubprocess": "raw process spawning",
    "subprocess": "runs programs",
    "commands": "Python 2 subprocess",
    "popen2": "Python 2 process spawning",
    "pty": "spawns a shell (pty.spawn)",
    "runpy": "runs modules and files as code",
    "importlib": "imports arbitrary modules",
    "imp": "imports arbitrary modules",
    "zipimport": "imports code from archives",
    "pkgutil": "resolves and imports any name (pkgutil.resolve_name)",
    "marshal": "loads code objects",
    "types": "builds code and function objects (types.CodeType, FunctionType)",
    "ctypes": "calls native code",
    "_ctypes": "calls native code",
    "code": "interactive interpreter (code.InteractiveInterpreter.runcode)",
    "codeop": "compiles code",
    "compileall": "compiles files",
    "py_compile": "compiles files",
    "shutil": "copies, moves and deletes files",
    "tempfile": "creates files",
    "webbrowser": "opens URLs with external programs",
    "socket": "network access",
    "_socket": "network access",
    "socketserver": "network servers",
    "ssl": "network access",
    "http": "network access (http.client)",
    "httplib": "Python 2 http.client",
    "urllib": "network and file access (urllib.request.urlopen)",
    "urllib2": "Python 2 urllib.request",
    "requests": "network access",
    "httpx": "network access",
    "aiohttp": "network access",
    "xmlrpc": "remote calls",
    "ftplib": "network access",
    "smtplib": "network access",
    "imaplib": "runs commands (imaplib.IMAP4_stream)",
    "poplib": "network access",
    "nntplib": "network access",
    "telnetlib": "network access",
    "asyncio": "runs subprocesses (asyncio.unix_events._UnixSubprocessTransport)",
    "multiprocessing": "starts processes",
    "concurrent": "runs callables in workers",
    "threading": "runs callables in threads",
    "_thread": "runs callables in threads",
    "signal": "process signals",
    "sys": "interpreter state (sys.modules, sys.exit)",
    "gc": "interpreter internals",
    "inspect": "reaches frames and globals",
    "cProfile": "runs code strings (cProfile.run)",
    "profile": "runs code strings (profile.run, Profile.runctx)",
    "pstats": "profiler internals",
    "trace": "runs code strings (trace.Trace.run)",
    "timeit": "runs code strings",
    "pdb": "debugger: runs code strings",
    "bdb": "debugger: runs code strings (bdb.Bdb.run)",
    "doctest": "runs code (doctest.debug_script)",
    "pydoc": "runs pagers as programs (pydoc.pipepager)",
    "idlelib": "IDLE internals that run code (pyshell.ModifiedInterpreter.runcode)",
    "lib2to3": "loads pickles (pgen2.grammar.Grammar.loads)",
    "_aix_support": "runs commands (_read_cmd_output)",
    "_pyrepl": "runs pagers as programs (pager.pipe_pager)",
    "pyrepl": "runs pagers as programs",
    "venv": "creates environments and runs pip",
    "ensurepip": "runs pip (ensurepip._run_pip)",
    "pip": "installs packages",
    "setuptools": "builds and runs code",
    "distutils": "builds and runs code (spawn)",
    "pickle": "nested unpickling (pickle.loads)",
    "_pickle": "nested unpickling (_pickle.loads)",
    "cPickle": "nested unpickling",
    "pickletools": "pickle internals",
    "shelve": "nested unpickling",
    "dill": "unpickler that rebuilds code objects",
    "cloudpickle": "rebuilds functions from code objects",
    "numpy.f2py": "runs compilers and code (crackfortran.getlincoef evaluates strings)",
    "numpy.testing": "runs code strings (numpy.testing._private.utils.runstring)",
    "numpy.distutils": "builds and runs code",
    "torch.hub": "downloads and runs repositories",
    "torch.utils.collect_env": "runs commands",
    "torch.utils.bottleneck": "runs scripts under a profiler",
    "torch.utils.cpp_extension": "compiles and loads native code",
    "torch.utils._config_module": "loads pickled configs (ConfigModule.load_config)",
    "torch.utils.data.datapipes.utils.decoder": "decodes with pickle.loads (basichandlers)",
    "torch._inductor": "compiles and loads code (codecache.compile_file)",
    "torch.jit.unsupported_tensor_ops": "execs code strings (execWrapper)",
    "torch.fx.experimental.symbolic_shapes": "evaluates guard expressions",
    "torch.package": "imports packaged code",
    "torch._dynamo": "compiles and runs code",
    "torch.distributed": "network and remote calls (rpc)",
    "tensorflow.io": "file access",
    "tensorflow.python.ops.script_ops": "runs Python functions (py_func)",
    "keras.utils.generic_utils": "deserialises functions from bytecode",
    "yaml": "unsafe YAML loaders construct objects",
    "jinja2": "template code execution",
    "mailcap": "runs commands",
    "logging.config": "dictConfig/fileConfig call factories and listen on sockets",
    "site": "processes .pth files, which run code",
    "_imp": "import machinery",
    "_frozen_importlib": "import machinery",
    "_frozen_importlib_external": "import machinery",
    "_winapi": "Windows process creation",
    "msvcrt": "Windows runtime access",
    "winreg": "Windows registry access",
    "_winreg": "Windows registry access (Python 2)",
    "cffi": "calls native code",
    "numpy.ctypeslib": "loads native libraries (load_library)",
    "pandas.io.pickle": "nested unpickling (read_pickle)",
    "antigravity": "opens a web browser on import",
}

# module -> names in it that are dangerous while the module as a whole is not.
DANGEROUS_GLOBALS: dict[str, frozenset[str]] = {
    "builtins": frozenset(
        {
            "eval",
            "exec",
            "compile",
            "getattr",
            "setattr",
            "delattr",
            "__import__",
            "open",
            "input",
            "breakpoint",
            "globals",
            "locals",
            "vars",
            "execfile",
            "apply",
            "file",
            "reload",
            "exit",
            "quit",
            "help",
            "memoryview",
            "__loader__",
            "__spec__",
        }
    ),
    "io": frozenset({"open", "FileIO", "open_code", "BufferedReader", "BufferedWriter", "TextIOWrapper"}),
    "_io": frozenset({"open", "FileIO", "open_code", "BufferedReader", "BufferedWriter", "TextIOWrapper"}),
    "codecs": frozenset({"open", "getreader", "getwriter", "lookup"}),
    "operator": frozenset({"attrgetter", "methodcaller"}),
    "functools": frozenset({"reduce"}),
    "torch": frozenset({"load", "jit", "hub", "compile", "ops", "classes", "_C", "from_file", "save"}),
    "torch.jit": frozenset({"load", "_load_for_lite_interpreter"}),
    "numpy": frozenset({"load", "loadtxt", "fromfile", "genfromtxt", "save", "savez", "savetxt", "tofile"}),
    "numpy.lib.npyio": frozenset({"load", "loadtxt", "genfromtxt", "NpzFile"}),
    "joblib": frozenset({"load"}),
    "pandas": frozenset({"read_pickle", "eval"}),
    "joblib.numpy_pickle": frozenset({"load"}),
    "uuid": frozenset({"_get_command_stdout", "_popen"}),
    "platform": frozenset({"popen", "_syscmd_file", "_syscmd_ver"}),
    "ntpath": frozenset({"expandvars"}),
    "glob": frozenset({"glob", "iglob"}),
    "torch.serialization": frozenset({"load", "_load", "_legacy_load", "_weights_only_unpickler"}),
}

# Callables that unpickle (or unmarshal) their first argument: the argument is analysed
# as a nested pickle when it is a constant we can see.
NESTED_LOADERS: frozenset[tuple[str, str]] = frozenset(
    {
        ("pickle", "loads"),
        ("_pickle", "loads"),
        ("pickle", "load"),
        ("_pickle", "load"),
        ("dill", "loads"),
        ("cloudpickle", "loads"),
        ("torch", "load"),
        ("torch.serialization", "load"),
        ("torch.storage", "_load_from_bytes"),
        ("joblib", "load"),
        ("marshal", "loads"),
    }
)

# Imports ML checkpoints really contain. Keys are module names; values the allowed names.
SAFE_GLOBALS: dict[str, frozenset[str]] = {
    "builtins": frozenset(
        {
            "set",
            "frozenset",
            "bytearray",
            "bytes",
            "complex",
            "dict",
            "list",
            "tuple",
            "slice",
            "range",
            "int",
            "float",
            "str",
            "bool",
            "object",
            "NoneType",
            "Ellipsis",
            "NotImplemented",
        }
    ),
    "collections": frozenset({"OrderedDict", "defaultdict", "deque", "Counter"}),
    "copyreg": frozenset({"_reconstructor", "__newobj__", "__newobj_ex__"}),
    "_codecs": frozenset({"encode"}),
    "datetime": frozenset({"datetime", "date", "time", "timedelta", "timezone"}),
    "decimal": frozenset({"Decimal"}),
    "fractions": frozenset({"Fraction"}),
    "uuid": frozenset({"UUID"}),
    "numpy": frozenset(
        {
            "ndarray",
            "dtype",
            "bool_",
            "int8",
            "int16",
            "int32",
            "int64",
            "uint8",
            "uint16",
            "uint32",
            "uint64",
            "float16",
            "float32",
            "float64",
            "longdouble",
            "complex64",
            "complex128",
            "str_",
            "bytes_",
            "void",
            "datetime64",
            "timedelta64",
            "intc",
            "uintc",
            "longlong",
            "ulonglong",
        }
    ),
    "numpy.core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy._core.multiarray": frozenset({"_reconstruct", "scalar"}),
    "numpy.core.numeric": frozenset({"_frombuffer"}),
    "numpy._core.numeric": frozenset({"_frombuffer"}),
    "numpy.ma.core": frozenset({"_mareconstruct", "MaskedArray"}),
    "numpy.random._pickle": frozenset({"__randomstate_ctor", "__bit_generator_ctor", "__generator_ctor"}),
    "numpy.random.mtrand": frozenset({"RandomState"}),
    "torch": frozenset(
        {
            "Size",
            "device",
            "dtype",
            "layout",
            "memory_format",
            "qscheme",
            "Tensor",
            "finfo",
            "iinfo",
            "FloatStorage",
            "DoubleStorage",
            "HalfStorage",
            "BFloat16Storage",
            "LongStorage",
            "IntStorage",
            "ShortStorage",
            "CharStorage",
            "ByteStorage",
            "BoolStorage",
            "ComplexFloatStorage",
            "ComplexDoubleStorage",
            "QInt8Storage",
            "QUInt8Storage",
            "QInt32Storage",
            "QUInt4x2Storage",
            "QUInt2x4Storage",
            "UntypedStorage",
            "TypedStorage",
            "float32",
            "float",
            "float64",
            "double",
            "float16",
            "half",
            "bfloat16",
            "uint8",
            "int8",
            "int16",
            "short",
            "int32",
            "int",
            "int64",
            "long",
            "bool",
            "complex64",
            "complex128",
            "cfloat",
            "cdouble",
            "chalf",
            "complex32",
            "qint8",
            "quint8",
            "qint32",
            "quint4x2",
            "quint2x4",
            "float8_e4m3fn",
            "float8_e5m2",
            "float8_e4m3fnuz",
            "float8_e5m2fnuz",
            "uint16",
            "uint32",
            "uint64",
            "strided",
            "sparse_coo",
            "sparse_csr",
            "sparse_csc",
            "sparse_bsr",
            "sparse_bsc",
            "_mkldnn",
            "contiguous_format",
            "channels_last",
            "channels_last_3d",
            "preserve_format",
            "per_tensor_affine",
            "per_channel_affine",
            "per_tensor_symmetric",
            "per_channel_symmetric",
            "per_channel_affine_float_qparams",
        }
    ),
    "torch._utils": frozenset(
        {
            "_rebuild_tensor",
            "_rebuild_tensor_v2",
            "_rebuild_tensor_v3",
            "_rebuild_parameter",
            "_rebuild_parameter_with_state",
            "_rebuild_qtensor",
            "_rebuild_sparse_tensor",
            "_rebuild_nested_tensor",
            "_rebuild_meta_tensor_no_storage",
            "_rebuild_wrapper_subclass",
            "_rebuild_device_tensor_from_numpy",
            "_rebuild_device_tensor_from_cpu_tensor",
            "_rebuild_xla_tensor",
            "_rebuild_mtia_tensor",
        }
    ),
    "torch._tensor": frozenset({"_rebuild_from_type", "_rebuild_from_type_v2"}),
    "torch.storage": frozenset({"UntypedStorage", "TypedStorage", "_load_from_bytes"}),
    "torch.serialization": frozenset({"_get_layout"}),
    "torch.nn.parameter": frozenset({"Parameter", "Buffer", "UninitializedParameter"}),
    "torch.nn.modules.module": frozenset({"_IncompatibleKeys"}),
    "joblib.numpy_pickle": frozenset({"NumpyArrayWrapper"}),
    "sklearn.externals.joblib.numpy_pickle": frozenset({"NumpyArrayWrapper"}),
    "joblib.numpy_pickle_compat": frozenset({"NDArrayWrapper", "ZNDArrayWrapper"}),
}

# (module regex, name regex): families of safe names that a finite list cannot enumerate.
SAFE_PATTERNS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # torch.nn layer classes of full-model pickles: torch's own modules, CapWords class names.
    (re.compile(r"torch\.nn\.modules\.[a-z_]+(\.[a-z_]+)?"), re.compile(r"[A-Z][A-Za-z0-9]*")),
    # numpy >= 1.25 dtype classes
    (re.compile(r"numpy\.dtypes"), re.compile(r"[A-Z][A-Za-z0-9]*DType")),
)

# Names the unpickler resolves the same way though they are spelled differently.
_MODULE_ALIASES: dict[str, str] = {"__builtin__": "builtins", "__builtins__": "builtins"}


def normalize(module: str, name: str) -> tuple[str, str]:
    """Map a Python 2 spelling to the Python 3 one, as ``pickle`` does with fix_imports."""
    pair = _compat_pickle.NAME_MAPPING.get((module, name))
    if pair is not None:
        return pair
    module = _MODULE_ALIASES.get(module, module)
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _dangerous_reason(module: str, name: str) -> str | None:
    parts = module.split(".")
    for i in range(len(parts), 0, -1):
        prefix = ".".join(parts[:i])
        reason = DANGEROUS_MODULES.get(prefix)
        if reason is not None:
            return reason
    head = name.split(".", 1)[0]
    names = DANGEROUS_GLOBALS.get(module)
    if names is not None and (head in names or name in names):
        return f"{module}.{head} is on the denylist"
    # a dotted name can walk into a dangerous module: torch.serialization via torch + "serialization.load"
    if "." in name:
        return _dangerous_reason(f"{module}.{name.rsplit('.', 1)[0]}", name.rsplit(".", 1)[1])
    return None


def _is_safe(module: str, name: str) -> bool:
    names = SAFE_GLOBALS.get(module)
    if names is not None and name in names:
        return True
    return any(m.fullmatch(module) and n.fullmatch(name) for m, n in SAFE_PATTERNS)


def matches_global(patterns: Sequence[str], module: str, name: str) -> bool:
    """True when ``module.name`` is one of ``patterns`` (``"module.name"``, or ``"module.*"``: any
    name in that module or its submodules), as a policy file's ``allow-globals``/``deny-globals``."""
    full = f"{module}.{name}"
    for pattern in patterns:
        if pattern.endswith(".*"):
            prefix = pattern[:-2]
            if module == prefix or module.startswith(prefix + "."):
                return True
        elif pattern == full:
            return True
    return False


def classify(module: str, name: str, allow: Sequence[str] = (), deny: Sequence[str] = ()) -> tuple[ImportVerdict, str]:
    """Classify one imported global; return the verdict and a short reason.

    Args:
        module: the module string exactly as the pickle names it.
        name: the attribute path, possibly dotted (protocol 4 allows ``Bdb.run``).
        allow: extra globals to treat as safe (a policy file's ``allow-globals``); they turn a
            ``suspicious`` verdict ``safe`` and never override ``dangerous``.
        deny: extra globals to treat as dangerous (``deny-globals``), even when allowlisted.

    Returns:
        ``("dangerous" | "suspicious" | "safe", reason)``.
    """
    # The name as written first, then its Python 3 spelling: a fixed order, so the reason never depends on hashing.
    candidates = list(dict.fromkeys([(module, name), normalize(module, name)]))
    for mod, nm in candidates:
        reason = _dangerous_reason(mod, nm)
        if reason is not None:
            return "dangerous", reason
    if deny and any(matches_global(deny, mod, nm) for mod, nm in candidates):
        return "dangerous", "denied by the policy file (deny-globals)"
    if all(_is_safe(mod, nm) for mod, nm in candidates) or _is_safe(*normalize(module, name)):
        return "safe", "on the allowlist"
    if allow and any(matches_global(allow, mod, nm) for mod, nm in candidates):
        return "safe", "allowed by the policy file (allow-globals)"
    return "suspicious", "not on the allowlist of globals real checkpoints use"


def is_nested_loader(module: str, name: str) -> bool:
    """True when calling ``module.name(x)`` unpickles or unmarshals ``x``."""
    return (module, name) in NESTED_LOADERS or normalize(module, name) in NESTED_LOADERS
