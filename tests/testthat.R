library(testthat)
library(scDiffusion)

test_check("scDiffusion")
