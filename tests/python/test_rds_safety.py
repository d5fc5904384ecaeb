"""The .rds validator (scdiffusion.data.rds_safety): crafted files that would run code in R < 4.4 are refused
before R reads them, and normal SingleCellExperiment files (every compression, format versions 2 and 3) pass.

Streams are written by hand here (no R needed); files written by R itself are checked when Rscript is on PATH.
"""

import bz2
import gzip
import lzma
import shutil
import struct
import subprocess

import pytest

from scdiffusion.data.rds_safety import check_rds
from scdiffusion.errors import InputError


def _i(v):
    return struct.pack(">i", v)


def _header(version=3):
    out = b"X\n" + _i(version) + _i(0x040201) + _i(0x030500)
    if version == 3:
        out += _i(5) + b"UTF-8"
    return out


def _intvec(values):
    return _i(13) + _i(len(values)) + b"".join(_i(v) for v in values)


def _sym(name):
    raw = name.encode()
    return _i(1) + _i(9 | (64 << 12)) + _i(len(raw)) + raw


def _list(*items):
    return _i(19) + _i(len(items)) + b"".join(items)


def _write(tmp_path, body, name="x.rds", compress=gzip.compress):
    path = tmp_path / name
    path.write_bytes(compress(body))
    return path


@pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress, lambda b: b])
@pytest.mark.parametrize("version", [2, 3])
def test_plain_data_passes_in_every_compression_and_version(tmp_path, compress, version):
    body = _header(version) + _list(_intvec([1, 2, 3]), _i(14) + _i(2) + struct.pack(">dd", 1.5, 2.5),
                                    _i(16) + _i(2) + _i(9 | (64 << 12)) + _i(1) + b"a" + _i(9) + _i(-1))
    check_rds(_write(tmp_path, body, compress=compress))


def test_a_top_level_promise_is_refused_without_reading_on(tmp_path):
    # CVE-2024-27322: a PROMSXP as the stream's object; the rest would be the code R runs
    body = _header() + _i(5) + _i(254) + _sym("file.create")
    with pytest.raises(InputError, match=r"Refusing to read '.*x\.rds'.*promise \(PROMSXP.*the top level"):
        check_rds(_write(tmp_path, body))


def test_a_promise_deep_inside_a_list_is_refused_and_named(tmp_path):
    body = _header() + _list(_intvec([1]), _list(_i(5) + _i(254)))
    with pytest.raises(InputError, match=r"promise.*\[\[2\]\]\[\[1\]\]"):
        check_rds(_write(tmp_path, body))


@pytest.mark.parametrize("sexptype, what", [(3, "function"), (21, "byte code"), (244, "byte code"),
                                            (22, "external pointer"), (23, "weak reference"),
                                            (249, "namespace"), (247, "persistent reference")])
def test_code_and_native_state_are_refused(tmp_path, sexptype, what):
    with pytest.raises(InputError, match=what):
        check_rds(_write(tmp_path, _header() + _list(_i(sexptype))))


def test_altrep_of_base_classes_passes_and_of_a_package_is_refused(tmp_path):
    def altrep(cls, pkg):
        info = _i(2) + _sym(cls) + _i(2) + _sym(pkg) + _i(2) + _intvec([13]) + _i(254)
        return _i(238) + info + _i(14) + _i(2) + struct.pack(">dd", 3, 1) + _i(254)

    check_rds(_write(tmp_path, _header() + altrep("compact_intseq", "base"), "ok.rds"))
    with pytest.raises(InputError, match="ALTREP object of class 'evil' from package 'evilpkg'"):
        check_rds(_write(tmp_path, _header() + altrep("evil", "evilpkg"), "bad.rds"))
    with pytest.raises(InputError, match="class 'compact_intseq' from package 'notbase'"):
        check_rds(_write(tmp_path, _header() + altrep("compact_intseq", "notbase"), "bad2.rds"))


@pytest.mark.parametrize("head, match", [(b"A\n", "ASCII serialization format"),
                                         (b"B\n", "native binary serialization format"),
                                         (b"RDX3\n", "not an .rds file written by saveRDS")])
def test_other_formats_are_refused_with_how_to_fix(tmp_path, head, match):
    with pytest.raises(InputError, match=match):
        check_rds(_write(tmp_path, head + b"\x00" * 20))


def test_truncated_missing_and_future_files(tmp_path):
    with pytest.raises(InputError, match="ends early"):
        check_rds(_write(tmp_path, _header() + _i(13) + _i(10) + _i(1)))
    with pytest.raises(InputError, match="does not exist"):
        check_rds(tmp_path / "nope.rds")
    with pytest.raises(InputError, match="format version 4"):
        check_rds(_write(tmp_path, b"X\n" + _i(4) + _i(0) + _i(0), "v4.rds"))


R_FILES = r"""
suppressPackageStartupMessages(library(SingleCellExperiment))
out <- commandArgs(TRUE)[1]
set.seed(1)
m <- matrix(rpois(200, 2), 20, dimnames = list(paste0("g", 1:20), paste0("c", 1:10)))
sce <- SingleCellExperiment(assays = list(counts = Matrix::Matrix(m, sparse = TRUE), logcounts = log1p(m)),
    colData = DataFrame(ct = factor(rep(c("a", "b"), 5)), n = 1:10), rowData = DataFrame(sym = letters[1:20]),
    reducedDims = list(PCA = matrix(rnorm(20), 10)), metadata = list(note = "hi", x = 1:10))
for (cmp in c("gzip", "bzip2", "xz")) saveRDS(sce, file.path(out, paste0("sce_", cmp, ".rds")), compress = cmp)
saveRDS(sce, file.path(out, "sce_v2.rds"), version = 2)
e <- new.env()
delayedAssign("x", file.create(file.path(out, "SENTINEL")), assign.env = e)
bad <- sce
S4Vectors::metadata(bad)$e <- e
saveRDS(bad, file.path(out, "bad_promise.rds"))
bad <- sce
S4Vectors::metadata(bad)$f <- function() file.create(file.path(out, "SENTINEL"))
saveRDS(bad, file.path(out, "bad_closure.rds"))
"""


@pytest.mark.skipif(shutil.which("Rscript") is None, reason="needs Rscript to write .rds files")
def test_files_written_by_r(tmp_path):
    script = tmp_path / "make.R"
    script.write_text(R_FILES)
    res = subprocess.run(["Rscript", str(script), str(tmp_path)], capture_output=True, text=True)
    if res.returncode != 0 and "SingleCellExperiment" in res.stderr:
        pytest.skip("R lacks SingleCellExperiment")
    assert res.returncode == 0, res.stderr
    for name in ("sce_gzip", "sce_bzip2", "sce_xz", "sce_v2"):
        check_rds(tmp_path / f"{name}.rds")
    with pytest.raises(InputError, match=r"promise.*metadata"):
        check_rds(tmp_path / "bad_promise.rds")
    with pytest.raises(InputError, match=r"function \(CLOSXP\).*metadata"):
        check_rds(tmp_path / "bad_closure.rds")
    assert not (tmp_path / "SENTINEL").exists()


def test_read_rds_checks_before_r_starts(tmp_path, monkeypatch):
    from scdiffusion.data import rds

    def no_r(*args, **kwargs):
        raise AssertionError("R was started for a refused file")

    monkeypatch.setattr(rds, "_session", no_r)
    with pytest.raises(InputError, match="promise"):
        rds.read_rds(_write(tmp_path, _header() + _i(5) + _i(254)))
