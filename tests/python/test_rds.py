"""SingleCellExperiment .rds <-> AnnData through rpy2 (scdiffusion.read_rds / write_rds and the CLI).

Exact round trips in both directions (checked in R with identical() and in Python value by value, also with
hypothesis-generated AnnData), the CLI trained on an .rds that writes generated cells R reads back as an SCE,
and the error naming the extra when rpy2 is missing. Tests that need R are skipped, with the reason, when R,
rpy2 or the R package scDiffusion are missing (bash scripts/install-r-support.sh installs them); .ci/run sets
SCDIFFUSION_REQUIRE_R=1, which turns that skip into a failure. R starts once, in this process.
"""

import gzip
import logging
import os
import shutil
import struct
import subprocess
import sys

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scdiffusion import read_rds, write_rds
from scdiffusion.cli import main
from scdiffusion.data import InputError, read_anndata
from scdiffusion.data.sce import R_KEY


@pytest.fixture(scope="module")
def r():
    """rpy2's rinterface with R started and the R package's conversion loaded, or a skip saying what is missing."""
    from scdiffusion.data.rds import r_support_problem

    problem = r_support_problem()
    if problem:
        if os.environ.get("SCDIFFUSION_REQUIRE_R") == "1":
            pytest.fail(f"SCDIFFUSION_REQUIRE_R=1 but .rds support is missing: {problem}")
        pytest.skip(f".rds support (R, rpy2, R package scDiffusion) is not available: {problem}")
    import rpy2.rinterface as ri

    return ri


def r_call(ri, code: str, *paths):
    """Call the R function ``code`` on file paths; return its first value (R vector -> Python scalar) or None."""
    res = ri.evalr(code)(*[ri.StrSexpVector([str(p)]) for p in paths])
    return None if res is ri.NULL else res[0]


# An SCE with every supported column type, NAs everywhere they can be, dense integer and sparse assays.
MAKE_SCE = r"""function(path) {
    set.seed(3)
    m <- matrix(as.integer(stats::rpois(24 * 15, 2)), 24, 15,
        dimnames = list(paste0("g", 1:24), c(paste0("cell", 1:14), "c\u00e9ll \u4e2d")))
    sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = m,
        logcounts = log1p(m * 1.0), sparse = Matrix::rsparsematrix(24, 15, 0.2)))
    sce$fac <- factor(rep(c("x", "y", NA), 5), levels = c("y", "x", "unused"))
    sce$ord <- factor(rep(c("lo", "hi", "hi"), 5), levels = c("lo", "hi"), ordered = TRUE)
    sce$int <- c(1:14, NA)
    sce$lgl <- rep(c(TRUE, FALSE, NA), 5)
    sce$chr <- rep(c("a", NA, "\u00fc"), 5)
    sce$dbl <- c(NA, NaN, -Inf, Inf, seq_len(11) / 3)
    SummarizedExperiment::rowData(sce)$symbol <- paste0("S", 1:24)
    SummarizedExperiment::rowData(sce)$len <- c(1:23, NA)
    SingleCellExperiment::reducedDim(sce, "PCA") <- matrix(stats::rnorm(30), 15,
        dimnames = list(colnames(sce), c("PC1", "PC2")))
    SingleCellExperiment::reducedDim(sce, "UMAP") <- matrix(stats::rnorm(30), 15)
    saveRDS(sce, path)
    TRUE
}"""

# Everything an accessor returns is identical (identical(x, y) itself may differ in how dimnames are stored
# internally: an SCE built from assays without dimnames keeps them off the stored matrices).
SAME_IN_R = """function(a, b) {
    x <- readRDS(a); y <- readRDS(b)
    ok <- c(class = identical(class(x), class(y)), dimnames = identical(dimnames(x), dimnames(y)),
        assays = identical(SummarizedExperiment::assays(x), SummarizedExperiment::assays(y)),
        colData = identical(SummarizedExperiment::colData(x), SummarizedExperiment::colData(y)),
        rowData = identical(SummarizedExperiment::rowData(x), SummarizedExperiment::rowData(y)),
        reducedDims = identical(SingleCellExperiment::reducedDims(x), SingleCellExperiment::reducedDims(y)),
        metadata = identical(S4Vectors::metadata(x), S4Vectors::metadata(y)))
    paste(names(ok)[!ok], collapse = ",")
}"""


def test_sce_to_anndata_types_and_values(r, tmp_path):
    r_call(r, MAKE_SCE, tmp_path / "in.rds")
    a = read_rds(tmp_path / "in.rds")
    assert a.shape == (15, 24)
    assert list(a.obs_names[-2:]) == ["cell14", "c\u00e9ll \u4e2d"] and a.var_names[0] == "g1"
    # first assay -> X (float64, exact integers), the others -> layers; dgCMatrix -> CSR
    assert a.X.dtype == np.float64 and np.all(a.X == np.round(a.X)) and a.X.sum() > 0
    np.testing.assert_allclose(a.layers["logcounts"], np.log1p(a.X), rtol=1e-15)  # R and numpy log1p: 1 ulp
    assert sp.isspmatrix_csr(a.layers["sparse"]) and a.layers["sparse"].nnz == round(0.2 * 24 * 15)
    # factor -> category (levels incl. unused, NA -> missing), ordered kept
    assert list(a.obs["fac"].cat.categories) == ["y", "x", "unused"]
    assert a.obs["fac"].isna().tolist() == [False, False, True] * 5 and a.obs["fac"].iloc[0] == "x"
    assert a.obs["ord"].cat.ordered and list(a.obs["ord"].cat.categories) == ["lo", "hi"]
    # integer / logical with NA -> nullable arrays; character NA -> None; double NA/NaN -> NaN, Inf kept
    assert str(a.obs["int"].dtype) == "Int32" and a.obs["int"].isna().sum() == 1 and a.obs["int"].iloc[13] == 14
    assert str(a.obs["lgl"].dtype) == "boolean" and a.obs["lgl"].isna().sum() == 5
    assert a.obs["chr"].tolist()[:3] == ["a", None, "\u00fc"]
    dbl = a.obs["dbl"].to_numpy()
    assert dbl.dtype == np.float64 and np.isnan(dbl[:2]).all() and dbl[2] == -np.inf and dbl[3] == np.inf
    # rowData -> var, reducedDims -> obsm
    assert a.var["symbol"].iloc[2] == "S3" and a.var["len"].isna().sum() == 1
    assert a.obsm["PCA"].shape == (15, 2) and a.obsm["UMAP"].shape == (15, 2)
    assert R_KEY in a.uns


def test_sce_round_trip_is_identical_in_r(r, tmp_path):
    r_call(r, MAKE_SCE, tmp_path / "in.rds")
    a = read_rds(tmp_path / "in.rds")
    write_rds(a, tmp_path / "back.rds")
    assert r_call(r, SAME_IN_R, tmp_path / "in.rds", tmp_path / "back.rds") == ""


def test_null_dimnames_and_sparse_counts_round_trip(r, tmp_path):
    r_call(r, """function(path) {
        m <- Matrix::rsparsematrix(12, 9, 0.3, rand.x = function(n) as.double(stats::rpois(n, 4) + 1))
        saveRDS(SingleCellExperiment::SingleCellExperiment(assays = list(counts = m)), path)
    }""", tmp_path / "nodim.rds")
    a = read_rds(tmp_path / "nodim.rds")
    assert list(a.obs_names) == [str(i) for i in range(1, 10)] and sp.isspmatrix_csr(a.X)
    write_rds(a, tmp_path / "back.rds")
    assert r_call(r, SAME_IN_R, tmp_path / "nodim.rds", tmp_path / "back.rds") == ""
    assert r_call(r, "function(p) is.null(dimnames(readRDS(p))[[1]])", tmp_path / "back.rds")


def test_other_sparse_and_logical_assays_read_as_csr(r, tmp_path):
    r_call(r, """function(path) {
        m <- Matrix::rsparsematrix(6, 5, 0.5)
        sce <- SingleCellExperiment::SingleCellExperiment(assays = list(triplet = as(m, "TsparseMatrix"),
            logical = m != 0, dense_lgl = as.matrix(m != 0)))
        saveRDS(sce, path)
    }""", tmp_path / "kinds.rds")
    a = read_rds(tmp_path / "kinds.rds")
    assert sp.isspmatrix_csr(a.X) and sp.isspmatrix_csr(a.layers["logical"])
    np.testing.assert_array_equal(a.layers["logical"].toarray(), (a.X.toarray() != 0).astype(float))
    np.testing.assert_array_equal(a.layers["dense_lgl"], a.layers["logical"].toarray())


def test_generated_cells_written_as_sce_with_logcounts_and_parameters(r, tmp_path):
    a = ad.AnnData(np.log1p(np.arange(12, dtype=np.float32).reshape(4, 3)),
                   obs=pd.DataFrame({"cell_type": pd.Categorical(["B", "T", "B", "T"])}, index=list("abcd")),
                   var=pd.DataFrame(index=["g1", "g2", "g3"]))
    a.layers["counts"] = sp.csr_matrix(np.arange(12, dtype=np.float32).reshape(4, 3))
    a.obsm["X_scdiffusion"] = np.ones((4, 2), dtype=np.float32)
    a.uns["scdiffusion"] = {"seed": 1, "guidance_scale": {"cell_type": 2.0}, "sampler": "ddpm"}
    write_rds(a, tmp_path / "gen.rds", x_name="logcounts")
    assert r_call(r, """function(p) {
        x <- readRDS(p)
        stopifnot(is(x, "SingleCellExperiment"),
            identical(SummarizedExperiment::assayNames(x), c("logcounts", "counts")),
            is(SummarizedExperiment::assay(x, "counts"), "dgCMatrix"), is.factor(x$cell_type),
            identical(SingleCellExperiment::reducedDimNames(x), "X_scdiffusion"),
            S4Vectors::metadata(x)$scDiffusion$params$guidance_scale$cell_type == 2)
        TRUE
    }""", tmp_path / "gen.rds")
    with pytest.raises(InputError, match="already exists"):
        write_rds(a, tmp_path / "gen.rds")
    write_rds(a, tmp_path / "gen.rds", overwrite=True, x_name="logcounts")
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_bad_rds_inputs_and_outputs_give_input_errors(r, tmp_path, caplog):
    r_call(r, "function(p) saveRDS(1:3, p)", tmp_path / "vec.rds")
    with pytest.raises(InputError, match="holds a 'integer', not a SingleCellExperiment"):
        read_rds(tmp_path / "vec.rds")
    r_call(r, """function(p) {
        sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = matrix(1, 2, 3)))
        sce$nested <- S4Vectors::DataFrame(a = 1:3)
        saveRDS(sce, p)
    }""", tmp_path / "nested.rds")
    with pytest.raises(InputError, match="column 'nested' is not an atomic vector"):
        read_anndata(tmp_path / "nested.rds")
    r_call(r, """function(p) {
        sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = matrix(1, 2, 3)))
        sce$day <- as.Date("2024-01-01") + 0:2
        saveRDS(sce, p)
    }""", tmp_path / "date.rds")
    with caplog.at_level(logging.WARNING, logger="scdiffusion"):
        assert read_rds(tmp_path / "date.rds").obs["day"].tolist() == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert "column 'day' of class 'Date' is converted as character" in caplog.text
    (tmp_path / "junk.rds").write_bytes(b"not an rds file")
    with pytest.raises(InputError, match=r"is not an \.rds file written by saveRDS .*saveRDS\(sce, file\)"):
        read_rds(tmp_path / "junk.rds")
    with pytest.raises(InputError, match="does not exist"):
        read_rds(tmp_path / "missing.rds")
    with pytest.warns(UserWarning, match="not unique"):
        dup = ad.AnnData(np.ones((2, 2)), obs=pd.DataFrame(index=["a", "a"]))
    with pytest.raises(InputError, match="obs_names_make_unique"):
        write_rds(dup, tmp_path / "dup.rds")
    with pytest.raises(InputError, match="must end in .rds"):
        write_rds(dup, tmp_path / "dup.h5ad")


# ---------------------------------------------------------------------------- hypothesis: AnnData -> .rds -> AnnData
_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)
_NAMES = st.integers(1, 7).flatmap(lambda n: st.lists(_TEXT, min_size=n, max_size=n, unique=True))


@st.composite
def anndatas(draw):
    obs_names, var_names = draw(_NAMES), draw(_NAMES)
    n, g = len(obs_names), len(var_names)
    values = np.array(draw(st.lists(st.integers(0, 40), min_size=n * g, max_size=n * g)), dtype=np.float64)
    stored = np.array(draw(st.lists(st.booleans(), min_size=n * g, max_size=n * g)))
    x = values.reshape(n, g)
    if draw(st.booleans()):  # sparse, with explicit zeros wherever a stored value is 0
        rows, cols = np.nonzero(stored.reshape(n, g))
        x = sp.csr_matrix((x[rows, cols], (rows, cols)), shape=(n, g))
    obs = pd.DataFrame(index=obs_names)
    cats = draw(st.lists(_TEXT, max_size=4, unique=True))
    if draw(st.booleans()):
        codes = draw(st.lists(st.integers(-1, len(cats) - 1), min_size=n, max_size=n))
        obs["cat \u00e9"] = pd.Categorical.from_codes(codes, categories=cats, ordered=draw(st.booleans()))
    if draw(st.booleans()):
        obs["int"] = np.array(draw(st.lists(st.integers(-2**31 + 1, 2**31 - 1), min_size=n, max_size=n)),
                              dtype=np.int64)
    if draw(st.booleans()):
        obs["float.na"] = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n, max_size=n))
    if draw(st.booleans()):
        obs["bool"] = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if draw(st.booleans()):
        obs["str"] = np.array(draw(st.lists(st.none() | _TEXT, min_size=n, max_size=n)), dtype=object)
    a = ad.AnnData(x, obs=obs, var=pd.DataFrame(index=var_names))
    if draw(st.booleans()):
        a.layers["dense copy"] = values.reshape(n, g) * 0.5
    if draw(st.booleans()):
        a.obsm["X_pca"] = np.array(draw(st.lists(st.floats(-1e6, 1e6), min_size=2 * n, max_size=2 * n))).reshape(n, 2)
    return a


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(a=anndatas())
def test_anndata_rds_anndata_round_trip_is_exact(r, tmp_path_factory, a):
    path = tmp_path_factory.mktemp("prop") / "a.rds"
    write_rds(a, path)
    b = read_rds(path)
    assert list(b.obs_names) == list(a.obs_names) and list(b.var_names) == list(a.var_names)
    if sp.issparse(a.X):  # same CSR structure, explicit zeros included
        assert sp.isspmatrix_csr(b.X)
        for attr in ("data", "indices", "indptr"):
            np.testing.assert_array_equal(getattr(b.X, attr), getattr(a.X, attr))
    else:
        assert b.X.dtype == np.float64
        np.testing.assert_array_equal(b.X, a.X)
    assert list(b.layers) == list(a.layers)
    for k in a.layers:
        np.testing.assert_array_equal(b.layers[k], a.layers[k])
    assert list(b.obs.columns) == list(a.obs.columns)
    for c in a.obs.columns:
        expect, got = a.obs[c], b.obs[c]
        if c == "int":  # R integers are 32-bit
            assert got.dtype == np.int32
            np.testing.assert_array_equal(got.to_numpy(), expect.to_numpy())
        else:
            pd.testing.assert_series_equal(got, expect, check_index=False, check_index_type=False)
    assert set(b.obsm) == set(a.obsm)
    for k in a.obsm:
        np.testing.assert_array_equal(b.obsm[k], a.obsm[k])
    assert set(b.uns) == {R_KEY}


# ---------------------------------------------------------------------------- the CLI on .rds files
SIM_SCE = """function(path) {
    set.seed(7)
    n <- 150; g <- 40
    type <- rep(c("A", "B", "C"), length.out = n)
    mu <- matrix(stats::rgamma(g, 2), g, n)
    for (k in 1:3) {
        rows <- (k - 1) * 10 + 1:10
        cols <- type == c("A", "B", "C")[k]
        mu[rows, cols] <- mu[rows, cols] * 8
    }
    counts <- matrix(as.integer(stats::rnbinom(g * n, size = 5, mu = mu)), g, n,
        dimnames = list(paste0("gene", 1:g), paste0("cell", 1:n)))
    sce <- SingleCellExperiment::SingleCellExperiment(assays = list(counts = as(counts * 1.0, "dgCMatrix")),
        colData = S4Vectors::DataFrame(cell_type = factor(type)))
    saveRDS(sce, path)
    TRUE
}"""


def test_cli_trains_on_rds_and_generates_rds_that_r_reads(r, tmp_path):
    r_call(r, SIM_SCE, tmp_path / "data.rds")
    run = CliRunner().invoke
    res = run(main, ["train", str(tmp_path / "data.rds"), "--model-dir", str(tmp_path / "model"),
                     "--labels-key", "cell_type", "--device", "cpu", "--max-steps", "40", "--quiet"])
    assert res.exit_code == 0, res.output
    res = run(main, ["generate", "--model-dir", str(tmp_path / "model"), "--n-cells", "6", "--condition",
                     "cell_type=B", "--n-steps", "10", "--sampler", "ddim", "--output", str(tmp_path / "out.rds"),
                     "--quiet"])
    assert res.exit_code == 0, res.output
    res = run(main, ["interpolate", "--model-dir", str(tmp_path / "model"), "--labels-key", "cell_type",
                     "--start", "A", "--end", "B", "--start-cells", str(tmp_path / "data.rds"), "--n-states", "2",
                     "--n-cells", "3", "--t-start", "200", "--n-steps", "20", "--output",
                     str(tmp_path / "series.rds"), "--quiet"])
    assert res.exit_code == 0, res.output
    check = """
        suppressPackageStartupMessages(library(SingleCellExperiment))
        x <- readRDS(commandArgs(TRUE)[1]); y <- readRDS(commandArgs(TRUE)[2])
        stopifnot(is(x, "SingleCellExperiment"), ncol(x) == 6L, nrow(x) == 40L,
            identical(assayNames(x), c("logcounts", "counts")), all(assay(x, "counts") >= 0),
            all(x$cell_type == "B"), identical(rownames(x)[1], "gene1"), "X_scdiffusion" %in% reducedDimNames(x),
            !is.null(metadata(x)$scDiffusion$params), is(y, "SingleCellExperiment"), ncol(y) == 6L)
        cat("OK\\n")
    """
    rscript = shutil.which("Rscript")
    assert rscript, "R support works in-process but Rscript is not on PATH"
    out = subprocess.run([rscript, "-e", check, str(tmp_path / "out.rds"), str(tmp_path / "series.rds")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "OK" in out.stdout, out.stderr[-2000:]
    # and the generated .rds reads back into Python with logcounts as X
    g = read_anndata(tmp_path / "out.rds")
    assert g.n_obs == 6 and "counts" in g.layers and np.all(np.asarray(g.X) >= 0)


# ---------------------------------------------------------------------------- without rpy2
def test_rds_without_rpy2_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "rpy2", None)
    monkeypatch.setitem(sys.modules, "rpy2.rinterface", None)
    # a well-formed .rds (gzip, format 3, the integer vector 1:3), so the file check passes and rpy2 is needed
    header = b"X\n" + struct.pack(">4i", 3, 0x040202, 0x030500, 5) + b"UTF-8"
    (tmp_path / "data.rds").write_bytes(gzip.compress(header + struct.pack(">5i", 13, 3, 1, 2, 3)))
    with pytest.raises(InputError,
                       match=r"reading \.rds needs the optional R support: pip install 'scdiffusion-ldm\[r\]'"):
        read_anndata(tmp_path / "data.rds")
    with pytest.raises(InputError, match=r"writing \.rds needs .*scdiffusion-ldm\[r\]"):
        write_rds(ad.AnnData(np.ones((2, 2))), tmp_path / "out.rds")
    run = CliRunner().invoke
    res = run(main, ["train", str(tmp_path / "data.rds"), "--model-dir", str(tmp_path / "m"), "--quiet"])
    assert res.exit_code == 1 and "scdiffusion-ldm[r]" in res.output and len(res.output.strip().splitlines()) == 1
    res = run(main, ["generate", "--model-dir", str(tmp_path / "m"), "--n-cells", "2", "--output",
                     str(tmp_path / "out.rds"), "--quiet"])
    assert res.exit_code == 1 and "scdiffusion-ldm[r]" in res.output
    assert not (tmp_path / "out.rds").exists() and not (tmp_path / "m").exists()
