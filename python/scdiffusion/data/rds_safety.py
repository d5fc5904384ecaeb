"""Refuse ``.rds`` files whose content could run code when R reads them (CVE-2024-27322 and relatives).

R before 4.4.0 evaluates a promise (``PROMSXP``) found in a serialized stream as soon as the unserialised object
is touched, so ``readRDS`` of a crafted file runs the file's code. The package reads users' ``.rds`` files with
``readRDS`` (Python: :func:`scdiffusion.read_rds` through rpy2; R: ``rdsToPlain``), so every such file is walked
here first, without R, and refused when it holds anything a SingleCellExperiment never holds and that can
carry code or native state:

* promises (``PROMSXP``), closures (``CLOSXP``), builtin and special functions, byte code (``BCODESXP``,
  ``BCREPDEF``);
* external pointers (``EXTPTRSXP``) and weak references (``WEAKREFSXP``);
* ``ALTREP`` objects of a class other than base R's (``compact_intseq``, ``compact_realseq``,
  ``deferred_string``, ``wrap_*``): a package's ALTREP class runs that package's unserialise method;
* persistent and class references (need a ``refhook``), package environments and namespaces (loading one runs
  its ``.onLoad``).

The walk follows R's ``serialize.c`` (``ReadItem``) for the XDR format (``X\\n``), versions 2 and 3, of
uncompressed, gzip, bzip2 or xz files (every format ``saveRDS`` writes by default). ASCII (``saveRDS(ascii =
TRUE)``) and native binary streams are refused with a message saying how to re-save the file. Vectors are
skipped, not decoded, in chunks, so the walk needs little memory and reads the file once.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import struct
from pathlib import Path

from ..errors import InputError

# SEXPTYPEs and the pseudo-types of the serialization format (R's Rinternals.h and serialize.c)
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP, SPECIALSXP, BUILTINSXP = 0, 1, 2, 3, 4, 5, 6, 7, 8
CHARSXP, LGLSXP, INTSXP, REALSXP, CPLXSXP, STRSXP, DOTSXP = 9, 10, 13, 14, 15, 16, 17
VECSXP, EXPRSXP, BCODESXP, EXTPTRSXP, WEAKREFSXP, RAWSXP, S4SXP = 19, 20, 21, 22, 23, 24, 25
REFSXP, NILVALUE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP, MISSINGARG_SXP = 255, 254, 253, 252, 251
BASENAMESPACE_SXP, NAMESPACESXP, PACKAGESXP, PERSISTSXP, CLASSREFSXP = 250, 249, 248, 247, 246
GENERICREFSXP, BCREPDEF, EMPTYENV_SXP, BASEENV_SXP, ATTRLANGSXP, ATTRLISTSXP, ALTREP_SXP = (
    245, 244, 242, 241, 240, 239, 238)

#: Types that are refused, with what they are (for the message).
REFUSED = {
    PROMSXP: "a promise (PROMSXP: code R runs when the object is touched, CVE-2024-27322)",
    CLOSXP: "a function (CLOSXP)",
    SPECIALSXP: "a special function (SPECIALSXP)",
    BUILTINSXP: "a builtin function (BUILTINSXP)",
    BCODESXP: "byte code (BCODESXP)",
    BCREPDEF: "byte code (BCREPDEF)",
    EXTPTRSXP: "an external pointer (EXTPTRSXP)",
    WEAKREFSXP: "a weak reference (WEAKREFSXP)",
    PERSISTSXP: "a persistent reference (PERSISTSXP)",
    CLASSREFSXP: "a class reference (CLASSREFSXP)",
    GENERICREFSXP: "a generic reference (GENERICREFSXP)",
    PACKAGESXP: "a package environment (PACKAGESXP)",
    NAMESPACESXP: "a namespace (NAMESPACESXP: reading it loads a package)",
    DOTSXP: "a '...' argument list (DOTSXP)",
}

#: ALTREP classes of base R whose unserialise methods are R's own (package "base").
BASE_ALTREP_CLASSES = frozenset({
    "compact_intseq", "compact_realseq", "deferred_string", "wrap_integer", "wrap_logical", "wrap_real",
    "wrap_complex", "wrap_raw", "wrap_string", "wrap_list",
})

_SKIP_CHUNK = 1 << 24
_MAX_DEPTH = 2000


class _Refused(Exception):
    """Found something refused (``what``) at ``where``."""

    def __init__(self, what: str, where: str):
        super().__init__(what)
        self.what, self.where = what, where


class _Stream:
    """Big-endian (XDR) reads over a binary file object, with a buffer and skipping in chunks."""

    def __init__(self, fh):
        self.fh = fh
        self.buf = b""
        self.pos = 0

    def read(self, n: int) -> bytes:
        if self.pos + n <= len(self.buf):
            out = self.buf[self.pos:self.pos + n]
            self.pos += n
            return out
        rest = self.buf[self.pos:]
        more = self.fh.read(max(n - len(rest), 1 << 16))
        self.buf, self.pos = rest + more, 0
        if len(self.buf) < n:
            raise EOFError
        return self.read(n)

    def skip(self, n: int) -> None:
        left = len(self.buf) - self.pos
        if n <= left:
            self.pos += n
            return
        n -= left
        self.buf, self.pos = b"", 0
        while n > 0:
            got = self.fh.read(min(n, _SKIP_CHUNK))
            if not got:
                raise EOFError
            n -= len(got)

    def int(self) -> int:
        return struct.unpack(">i", self.read(4))[0]


class _Walker:
    """R's ``ReadItem`` without building objects: symbols and strings are kept (ALTREP class names are
    symbols, often back-references), everything else is checked and skipped."""

    def __init__(self, stream: _Stream):
        self.s = stream
        self.refs: list = []
        self.path: list[str] = []

    def length(self) -> int:
        n = self.s.int()
        if n == -1:  # long vector: two more ints
            hi, lo = self.s.int(), self.s.int()
            return (hi << 32) + (lo & 0xFFFFFFFF)
        if n < 0:
            raise ValueError(f"negative length {n}")
        return n

    def item(self, depth: int = 0):
        return self.dispatch(self.s.int(), depth)

    def dispatch(self, flags: int, depth: int):
        """One item whose flags (type, attribute and tag bits, reference index) were read already."""
        if depth > _MAX_DEPTH:
            raise _Refused(f"an object nested more than {_MAX_DEPTH} levels deep", self._where())
        s = self.s
        t = flags & 0xFF
        has_attr, has_tag = bool(flags & (1 << 9)), bool(flags & (1 << 10))
        if t in REFUSED:
            raise _Refused(REFUSED[t], self._where())
        if t == REFSXP:
            i = flags >> 8
            if i == 0:
                i = s.int()
            if not 1 <= i <= len(self.refs):
                raise ValueError(f"reference {i} to an unknown object")
            return self.refs[i - 1]
        if t in (NILVALUE_SXP, EMPTYENV_SXP, BASEENV_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP, MISSINGARG_SXP,
                 BASENAMESPACE_SXP):
            return None
        if t == SYMSXP:
            name = self.item(depth + 1)
            sym = ("sym", name)
            self.refs.append(sym)
            return sym
        if t == ENVSXP:
            self.refs.append(None)
            s.int()  # locked
            for part in ("enclosure", "frame", "hash table", "attributes"):
                self._child(part, depth)
            return None
        if t in (LISTSXP, LANGSXP, ATTRLANGSXP, ATTRLISTSXP):
            cars = []
            while True:  # the CDR chain iteratively, as R does
                if has_attr:
                    self._child("attributes", depth)
                tag = self.item(depth + 1) if has_tag else None
                self.path.append(_tag_name(tag))
                try:
                    cars.append(self.item(depth + 1))
                finally:
                    self.path.pop()
                flags = s.int()
                t = flags & 0xFF
                has_attr, has_tag = bool(flags & (1 << 9)), bool(flags & (1 << 10))
                if t not in (LISTSXP, LANGSXP, ATTRLANGSXP, ATTRLISTSXP):  # the end of the chain
                    self.dispatch(flags, depth + 1)
                    return cars
        if t == CHARSXP:
            n = s.int()
            if n == -1:
                return None
            return s.read(n).decode("utf-8", errors="replace")
        if t in (LGLSXP, INTSXP):
            s.skip(4 * self.length())
        elif t == REALSXP:
            s.skip(8 * self.length())
        elif t == CPLXSXP:
            s.skip(16 * self.length())
        elif t == RAWSXP:
            s.skip(self.length())
        elif t in (STRSXP, VECSXP, EXPRSXP):
            out = []
            for i in range(self.length()):
                self.path.append(f"[[{i + 1}]]")
                try:
                    v = self.item(depth + 1)
                finally:
                    self.path.pop()
                if t == STRSXP and len(out) < 8:
                    out.append(v)
            if has_attr:
                self._child("attributes", depth)
            return out if t == STRSXP else None
        elif t == S4SXP:
            pass
        elif t == ALTREP_SXP:
            info = self.item(depth + 1)
            cls, pkg = _altrep_class(info)
            if cls not in BASE_ALTREP_CLASSES or pkg != "base":
                raise _Refused(f"an ALTREP object of class '{cls}' from package '{pkg}' (only base R's "
                               "compact and wrapper classes are read)", self._where())
            self._child("ALTREP state", depth)
            self._child("attributes", depth)
            return None
        else:
            raise ValueError(f"unknown item type {t}")
        if has_attr:
            self._child("attributes", depth)
        return None

    def _child(self, part: str, depth: int):
        self.path.append(f"<{part}>")
        try:
            return self.item(depth + 1)
        finally:
            self.path.pop()

    def _where(self) -> str:
        out = ""
        for p in (p for p in self.path if p):
            out += p if p.startswith("[[") else f" {p} " if p.startswith("<") else f"${p}"
        return " ".join(out.split()) or "the top level"


def _tag_name(tag) -> str:
    if isinstance(tag, tuple) and tag and tag[0] == "sym" and isinstance(tag[1], str):
        return tag[1]
    return ""


def _altrep_class(info) -> tuple[str, str]:
    """The ALTREP class and package symbols of the serialized class info (a pairlist: class, package, type)."""
    names = [x[1] if isinstance(x, tuple) and x and x[0] == "sym" else None for x in (info or [])]
    cls = names[0] if len(names) > 0 and isinstance(names[0], str) else "?"
    pkg = names[1] if len(names) > 1 and isinstance(names[1], str) else "?"
    return cls, pkg


def _open(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(6)
    if magic[:2] == b"\x1f\x8b":
        return gzip.open(path, "rb")
    if magic[:3] == b"BZh":
        return bz2.open(path, "rb")
    if magic[:6] == b"\xfd7zXZ\x00":
        return lzma.open(path, "rb")
    return open(path, "rb")


def check_rds(path: str | os.PathLike) -> None:
    """Raise :class:`~scdiffusion.errors.InputError` unless ``path`` is an ``.rds`` file that reading with R's
    ``readRDS`` cannot run code from (see the module's docstring for what is refused).

    Parameters
    ----------
    path
        The ``.rds`` file (uncompressed, gzip, bzip2 or xz; XDR serialization, format version 2 or 3).

    Raises
    ------
    InputError
        The file is missing, not an R serialization stream, in the ASCII or native binary format, truncated,
        or holds a promise, function, byte code, external pointer, weak reference, non-base ALTREP object,
        reference or namespace; the message names the file and what was found where.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"Input file '{path}' does not exist.")
    try:
        with _open(path) as fh:
            s = _Stream(fh)
            fmt = s.read(2)
            if fmt in (b"A\n", b"B\n"):
                kind = "ASCII" if fmt == b"A\n" else "native binary"
                raise InputError(f"'{path}' is an .rds file in R's {kind} serialization format, which scDiffusion "
                                 "does not read (it checks XDR files only, the default of saveRDS). Re-save it in "
                                 "R with saveRDS(readRDS(file), file) if you trust its origin.")
            if fmt != b"X\n":
                raise InputError(f"'{path}' is not an .rds file written by saveRDS (no R serialization header); "
                                 "save a SingleCellExperiment with saveRDS(sce, file).")
            version = s.int()
            s.int()  # writer's R version
            s.int()  # oldest R version that can read it
            if version not in (2, 3):
                raise InputError(f"'{path}' uses R serialization format version {version}; scDiffusion reads "
                                 "versions 2 and 3 (saveRDS's default). Re-save it with saveRDS(x, file, version = 3).")
            if version == 3:
                s.skip(s.int())  # native encoding
            _Walker(s).item()
    except InputError:
        raise
    except _Refused as r:
        raise InputError(f"Refusing to read '{path}': it holds {r.what} at {r.where}. A SingleCellExperiment "
                         "never does; reading such a file with R < 4.4 can run code hidden in it "
                         "(CVE-2024-27322). If you trust the file's origin, load it in R, keep the data "
                         "(assays, colData, rowData, reducedDims) and save that again.") from None
    except (EOFError, ValueError, OSError, RecursionError, lzma.LZMAError) as err:
        detail = "the file ends early" if isinstance(err, EOFError) else str(err) or type(err).__name__
        raise InputError(f"'{path}' is not a readable .rds file ({detail}); save a SingleCellExperiment with "
                         "saveRDS(sce, file).") from None
