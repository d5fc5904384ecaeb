## saveScDiffusion(overwrite = TRUE) replaces only what scDiffusion wrote (issue 21): no Python needed, the
## models are model folders on disk (a config.json and weights) wrapped in ScDiffusionModel objects.

fake_model <- function(tag = "new") {
    path <- tempfile("fake_model_")
    dir.create(path)
    writeLines(sprintf('{"tag": "%s"}', tag), file.path(path, "config.json"))
    writeLines(tag, file.path(path, "model.safetensors"))
    new("ScDiffusionModel", path = normalizePath(path), info = list())
}
marker_of <- function(dir) jsonlite::fromJSON(file.path(dir, ".scdiffusion-output.json"))
tag_of <- function(dir) readLines(file.path(dir, "model.safetensors"))

test_that("a saved model folder carries the marker and a model folder is replaced", {
    root <- tempfile("save_")
    dir.create(root)
    dir <- file.path(root, "m")
    saved <- saveScDiffusion(fake_model("old"), dir)
    expect_identical(modelPath(saved), normalizePath(dir))
    expect_identical(marker_of(dir)[c("written_by", "kind")], list(written_by = "scdiffusion", kind = "model"))
    expect_identical(marker_of(dir)$version, as.character(packageVersion("scDiffusion")))
    expect_error(saveScDiffusion(fake_model("new"), dir), "already exists; use overwrite = TRUE")
    expect_identical(tag_of(dir), "old")
    saveScDiffusion(fake_model("new"), dir, overwrite = TRUE)
    expect_identical(tag_of(dir), "new")
    # no temporary or old folder is left beside it
    expect_identical(list.files(root, all.files = TRUE, no.. = TRUE), "m")
})

test_that("overwrite = TRUE refuses a folder without the marker, another kind, and a file; nothing is touched", {
    root <- tempfile("save_")
    dir.create(root)
    notes <- file.path(root, "notes")
    dir.create(file.path(notes, "sub"), recursive = TRUE)
    writeLines("mine", file.path(notes, "my_notes.txt"))
    writeLines("1,2", file.path(notes, "sub", "data.csv"))
    writeLines("{}", file.path(notes, "config.json"))  # a common name, not a marker
    expect_error(saveScDiffusion(fake_model(), notes, overwrite = TRUE),
        sprintf("Refusing to overwrite '%s': it is not a model folder scDiffusion wrote \\(no .scdiffusion-output.json",
            notes))
    expect_identical(sort(list.files(notes, recursive = TRUE)), c("config.json", "my_notes.txt", "sub/data.csv"))
    report <- file.path(root, "report")
    dir.create(report)
    writeLines('{"written_by": "scdiffusion", "kind": "report", "version": "0.99.0"}',
        file.path(report, ".scdiffusion-output.json"))
    writeLines("x", file.path(report, "index.md"))
    expect_error(saveScDiffusion(fake_model(), report, overwrite = TRUE), "its marker says kind 'report'")
    expect_true(file.exists(file.path(report, "index.md")))
    csv <- file.path(root, "results.csv")
    writeLines("a,b", csv)
    expect_error(saveScDiffusion(fake_model(), csv, overwrite = TRUE),
        "Refusing to overwrite '.*results.csv': it is a file")
    expect_identical(readLines(csv), "a,b")
    expect_identical(sort(list.files(root, all.files = TRUE, no.. = TRUE)), c("notes", "report", "results.csv"))
})

test_that("an empty folder is replaced and trailing slashes work (new and existing folders)", {
    root <- tempfile("save_")
    dir.create(file.path(root, "empty"), recursive = TRUE)
    saveScDiffusion(fake_model("a"), file.path(root, "empty"), overwrite = TRUE)
    expect_identical(tag_of(file.path(root, "empty")), "a")
    m2 <- paste0(file.path(root, "m2"), "/")
    saveScDiffusion(fake_model("first"), m2)
    saveScDiffusion(fake_model("second"), m2, overwrite = TRUE)
    expect_identical(tag_of(m2), "second")
    saved <- saveScDiffusion(fake_model("x"), paste0(file.path(root, "newmodel"), "/"))
    expect_identical(modelPath(saved), normalizePath(file.path(root, "newmodel")))
    expect_identical(sort(list.files(root, all.files = TRUE, no.. = TRUE)), c("empty", "m2", "newmodel"))
    # missing parent folders are created, as before
    saveScDiffusion(fake_model("deep"), file.path(root, "a", "b", "m"))
    expect_identical(tag_of(file.path(root, "a", "b", "m")), "deep")
})

test_that("a failure part-way leaves the old model intact", {
    root <- tempfile("save_")
    dir.create(root)
    dir <- file.path(root, "m")
    saveScDiffusion(fake_model("old"), dir)
    broken <- fake_model("new")
    file.symlink(file.path(root, "does-not-exist"), file.path(modelPath(broken), "weights.bin"))
    expect_error(suppressWarnings(saveScDiffusion(broken, dir, overwrite = TRUE)),
        "could not write the model.*nothing was replaced")
    expect_identical(tag_of(dir), "old")
    expect_identical(list.files(root, all.files = TRUE, no.. = TRUE), "m")
})

test_that("a symbolic link to a model folder is not replaced, nor is the folder it points to", {
    root <- tempfile("save_")
    dir.create(root)
    target <- file.path(root, "m")
    saveScDiffusion(fake_model("old"), target)
    link <- file.path(root, "link")
    file.symlink(target, link)
    expect_error(saveScDiffusion(fake_model("new"), link, overwrite = TRUE), "it is a symbolic link")
    expect_identical(Sys.readlink(link), target)
    expect_identical(tag_of(target), "old")
    expect_setequal(list.files(root, all.files = TRUE, no.. = TRUE), c("m", "link"))
})

test_that("a folder that stopped being a model folder after the check is put back, not deleted", {
    # what .replace_dir sees when the folder changed between saveScDiffusion's check and the swap
    root <- tempfile("save_")
    dir.create(root)
    dir <- file.path(root, "m")
    dir.create(dir)
    writeLines("my notes", file.path(dir, "notes.txt"))
    tmp <- file.path(root, ".m.tmp")
    dir.create(tmp)
    writeLines("new", file.path(tmp, "model.safetensors"))
    expect_error(scDiffusion:::.replace_dir(tmp, dir, "model"), "it changed while the model was being written")
    expect_identical(readLines(file.path(dir, "notes.txt")), "my notes")
    expect_setequal(list.files(root, all.files = TRUE, no.. = TRUE), c("m", ".m.tmp"))
})
