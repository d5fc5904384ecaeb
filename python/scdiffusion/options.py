"""Every user-facing parameter of train / generate / interpolate / evaluate, declared once.

A parameter has one name for one concept in Python, on the command line (``--n-steps`` for ``n_steps``) and in
R, one default and one set of bounds. The Python methods take their defaults from here
(``guidance_scale=GENERATE.defaults.guidance_scale``), the CLI builds its options, choices and help from here
(:func:`scdiffusion.cli`), and R's checks and documentation are generated from here
(``tools/make_r_options.py`` writes ``R/options.R``). ``tests/python/test_options.py`` reads the Python
signatures, the CLI options and the R function arguments and checks them against these declarations.

Where a surface needs its own spelling of a concept, the declaration says so explicitly:

- containers: AnnData's ``layer`` is SummarizedExperiment's ``assay`` in R, and the data argument of R's
  generics is ``x`` (Bioconductor convention);
- ``progress``: shown by default in Python, ``interactive()`` in R, ``--quiet`` on the command line.
"""

from __future__ import annotations

from .declaration import SURFACES, Operation, Option

__all__ = ["SURFACES", "Option", "Operation", "OPERATIONS", "TRAIN", "GENERATE", "INTERPOLATE", "EVALUATE", "STAGE"]


def _samplers() -> tuple[str, ...]:
    from .diffusion.samplers import SAMPLERS

    return tuple(SAMPLERS)


def _describe_samplers() -> str:
    from .diffusion.samplers import describe_samplers

    return describe_samplers()


def _likelihoods() -> tuple[str, ...]:
    from .nn.likelihood import OUTPUT_LIKELIHOODS

    return tuple(OUTPUT_LIKELIHOODS)


def _presets() -> tuple[str, ...]:
    from .train.presets import PRESETS

    return tuple(PRESETS)


# ---------------------------------------------------------------------------------------- shared options
_PY_CLI = ("python", "cli")
_PY_R = ("python", "r")
SEED = Option("seed", "int", 0, "Random seed; the same seed on the same machine gives the same result (training: "
              "unless max_time stops a stage). R: NULL (the default) draws the seed from R's random numbers, so "
              "set.seed() repeats a call and successive calls differ.", low=0, r_default="NULL")
PROGRESS = Option("progress", "bool", True, "Show progress bars.", surfaces=_PY_R, r_default="interactive()")
LAYER = Option("layer", "str", None, "Layer (R: assay) holding raw counts; default X (R: 'counts').",
               r_name="assay", r_default='"counts"')
DEVICE = Option("device", "str", "auto", "Torch device: auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps.")
BATCH_SIZE = Option("batch_size", "int", 4096, "Cells denoised at a time (memory).", low=1, surfaces=_PY_CLI)
N_CELLS = Option("n_cells", "int", None, "Number of cells to generate.", low=1, required=True)
GUIDANCE_SCALE = Option(
    "guidance_scale", "scale", 2.0,
    "Classifier guidance weight (paper: 2), or one weight per condition column.", low=0, high=1000)
SAMPLER = Option("sampler", "choice", "dpmpp-sde", lambda: "Sampler. " + _describe_samplers(), choices=_samplers)
N_STEPS = Option("n_steps", "int", None, "Sampling steps (default: the sampler's own, see sampler). The log-SNR "
                 "samplers (dpmpp, dpmpp-sde) take fewer when steps coincide near t = 0 (many steps, or a low "
                 "t_start); the parameters record n_steps taken and n_steps_requested.", low=1)
ETA = Option("eta", "float", None, "Noise of the samplers that take it (DDIM: 0, deterministic, by default); "
             "an error with the others.", low=0)
GUIDANCE = Option(
    "guidance", "choice", "auto",
    "How conditions steer generation: classifier (noise-aware classifiers' gradients, the paper's method), "
    "classifier-free (the label-conditioned denoiser), both, or auto (for a model trained with classifier_free: "
    "both when generating, classifier when interpolating, as measured best; otherwise classifier).",
    choices=("auto", "classifier", "classifier-free", "both"))
CFG_SCALE = Option("cfg_scale", "scale", 4.0, "Classifier-free guidance weight (1: the conditional model; larger "
                   "sharpens), or one weight per condition column.", low=0, high=1000)
DRAWN_CFG_SCALE = Option(
    "drawn_cfg_scale", "float", None, "Unconditional cells (no condition) of a label-conditioned model: each cell's "
    "labels are drawn from the training cells and this classifier-free weight steers towards them (1: the "
    "conditional model p(x | labels), one denoiser pass per step; 2: two passes per step). Default: the weight, 1 or "
    "2, whose generated latents came closer (MMD^2) to the validation cells' when the model was trained (558 PBMCs: "
    "2, 3,000 and 10,000 simulated cells: 1, as on held-out cells; benchmarks/results/decoder); a model without "
    "that choice (older release, under 20 validation cells): 2 below 10,000 training cells, 1 from 10,000.",
    low=0, high=1000, r_default="NULL")
GUIDANCE_T_MAX = Option("guidance_t_max", "int", None,
                        "Guidance applies at original time steps t < guidance_t_max (default T/2), whatever the "
                        "sampler and number of steps.", low=0, high="T")
LABELS_KEY = Option("labels_key", "str", None, "obs (colData) column with the labels.", deprecated_r=("labels",))
_R = ("r",)
GENES = Option("genes", "strings", None, "Genes to return, in this order (default: the model's genes); genes the "
               "model does not generate are zero rows, e.g. genes = rownames(x); like = x also gives the result "
               "the assays, colData columns and rowData of x, so that cbind(x, result) works as is.",
               surfaces=_R)
PREFIX = Option("prefix", "str", None, "Prefix of the cell names, numbered from 1 (default: 'scd' and a hash of "
                "the model and the parameters, so that other calls give other names).", surfaces=_R)

# ------------------------------------------------------------------------- one training stage's options
# The fields of :class:`scdiffusion.train.TrainConfig` a user may override per stage (``autoencoder={...}``,
# ``diffusion={...}``, ``classifier={...}``; R: the same lists), checked by
# :func:`scdiffusion.train.presets.stage_configs` before any training.
STAGE = Operation("stage", (
    Option("max_steps", "int", None, "Optimiser steps of the stage.", low=1),
    Option("max_time", "float", None, "Wall-time budget of the stage in seconds.", low=0, low_open=True),
    Option("batch_size", "int", None, "Cells per step.", low=1),
    Option("lr", "float", None, "AdamW learning rate.", low=0, low_open=True),
    Option("weight_decay", "float", None, "AdamW weight decay.", low=0),
    Option("lr_schedule", "choice", None, "Learning-rate schedule.", choices=("constant", "linear")),
    Option("eval_every", "int", None, "Steps between validation evaluations.", low=1),
    Option("patience", "int", None, "Evaluations without improvement before stopping (0: never).", low=0),
    Option("ema_decay", "float", None, "Decay of the weights' moving average (unset: none).", low=0, high=1,
           high_open=True),
    Option("restore_best", "bool", None, "Return the weights of the best validation loss."),
    Option("mixed_precision", "bool", None, "bfloat16 autocast of the forward passes."),
    Option("select_by", "choice", None, "What selects the weights and stops early: loss (the validation loss) or, "
           "diffusion stage only, realism (MMD^2 of generated cells to the validation cells; a few seconds more per "
           "evaluation; its later weights are sharper: generate unconditional cells with drawn_cfg_scale = 1) or, "
           "autoencoder stage only, split (the loss of validation counts the encoder did not see: half of each cell's "
           "counts, by binomial thinning, is encoded and the other half scored; count likelihoods; for ~10,000 cells "
           "or more: on 558 PBMCs it kept an underfitted decoder).",
           choices=("loss", "realism", "split")),
))

# ---------------------------------------------------------------------------------------- operations
TRAIN = Operation("train", (
    Option("labels_keys", "strings", None,
           "obs (colData) columns to train one classifier each on; their labels become conditions.",
           cli_flag="--labels-key", deprecated_r=("labels",)),
    LAYER,
    Option("pretrained", "path", None, "SCimilarity model folder to fine-tune the autoencoder from."),
    Option("likelihood", "choice", "nb",
           "Decoder output: nb (negative binomial over counts; generated cells get counts), zinb, or mse (the "
           "paper's regression of log-normalised expression).", choices=_likelihoods),
    Option("noise_fit", "choice", "eval-train",
           "How a count likelihood's dispersion is fitted: eval-train (refitted after training, the network in "
           "eval mode, on up to 10,000 training cells; measured best, benchmarks/results/decoder), eval-validation "
           "(the same on the validation cells) or joint (learned with the network only, release 0.1).",
           choices=("eval-train", "eval-validation", "joint")),
    Option("count_split", "float", 0.0,
           "Count splitting of the autoencoder's training cells: the share p of each cell's counts (binomial "
           "thinning) the encoder sees, the likelihood scoring the rest, so the decoded mean does not learn each "
           "cell's counting noise (count likelihoods only; 0: off).", low=0, high=1, high_open=True),
    Option("n_latent", "int", 128, "Latent size of the autoencoder (SCimilarity: 128).", low=2),
    Option("hidden", "ints", (256, 256, 256), "Hidden layer sizes of the encoder (reversed for the decoder; "
           "SCimilarity's layout is 1024,1024,1024, which a pretrained model brings with it). 256 x 3 generates "
           "more realistic cells than 1024 x 3 from about 500 to 50,000 cells "
           "(benchmarks/results/decoder/experiments.md, E16, E29, E30).", low=1),
    Option("denoiser_hidden", "ints", (512, 512, 256, 128), "Down path of the skip-MLP denoiser (the paper's "
           "widths by default; smaller ones train faster on small data).", low=1),
    Option("classifier_hidden", "ints", (512, 512, 256), "Hidden layers of each noise-aware classifier.", low=1),
    Option("classifier_free", "bool", True, "Condition the denoiser on the labels too (label embeddings, each "
           "column dropped at random in training), so generation can use classifier-free guidance."),
    Option("label_dropout", "float", 0.3, "Probability that training drops a label column to the null label "
           "(classifier-free denoiser).", low=0, high=1, high_open=True),
    Option("continuous_keys", "strings", None,
           "obs (colData) columns of ordered numbers (times, doses; labels such as '24' count) the denoiser is "
           "conditioned on by value, dropped like labels in training; generation can then ask for any value, also "
           "one never measured (condition = {column: 36}). A column may also be in labels_keys.",
           cli_flag="--continuous-key"),
    Option("continuous_pseudotime", "bool", None,
           "Spread each cell's value of a time-course column (at most 20 distinct values) within its time point "
           "along its expression, so that cells ahead of their time point condition the denoiser on a later value "
           "(ridge regression of the value on 30 principal components, each time point's median kept at its "
           "value); values between the time points are then learned from real cells, not only interpolated. "
           "Default (None): only where expression predicts the values out of sample with R^2 >= 0.95, where it "
           "was measured to help (R^2 0.97); at 0.87-0.91 cells generated from noise at an unmeasured value came "
           "out farther. True: always (a warning below 0.95); False: never. The log and the model record the "
           "R^2. Not with backed = TRUE."),
    Option("dropout", "float", 0.2, "Dropout of the hidden layers.", low=0, high=1, high_open=True),
    Option("input_dropout", "float", 0.2, "Dropout of the encoder's input genes.", low=0, high=1, high_open=True),
    Option("min_cells", "int", 3, "Genes detected in fewer cells are dropped (paper: 3).", low=0),
    Option("min_counts", "int", 10, "Cells with fewer counts are dropped (paper: 10).", low=0),
    Option("target_sum", "float", 1e4, "Counts per cell after normalisation, before log1p (paper: 1e4).",
           low=0, low_open=True),
    Option("min_cells_per_label", "int", 5, "Labels with fewer training cells are refused.", low=1),
    Option("validation_fraction", "float", 0.1, "Cells held out for early stopping.", low=0, high=0.5,
           high_open=True),
    Option("n_timesteps", "int", 1000, "Diffusion steps T (paper: 1000).", low=10),
    DEVICE,
    Option("mixed_precision", "bool", False, "bfloat16 autocast of the networks' forward passes (GPUs; likelihoods "
           "and samplers stay float32)."),
    Option("threads", "int", None, "CPU threads, fixed for the run (default, or 0: every usable core); CLI: "
           "scdiffusion --threads N, environment: SCDIFFUSION_THREADS=N, R: options(scDiffusion.threads = N).",
           low=0,
           surfaces=("python",)),
    SEED,
    Option("backed", "bool", False, "Out-of-core: stream the counts of a CSR .h5ad from disk in chunks.",
           surfaces=_PY_CLI),
    Option("preset", "choice", "cpu", "Training budgets: cpu (minutes for a few thousand cells) or gpu (the "
           "original code's scale).", choices=_presets),
    Option("max_time", "float", None, "Wall-time budget of the whole training in seconds, split 25/60/15 % over "
           "the stages. How many steps fit depends on the machine's speed and load: a stage it stops can train "
           "differently with the same seed (max_steps repeats exactly).", low=0, low_open=True),
    Option("max_steps", "steps", None, "Optimiser steps: one number for every stage, or per stage "
           "(autoencoder, diffusion, classifier).", low=1),
    Option("autoencoder", "overrides", None, "Further options of the autoencoder stage (batch_size, lr, "
           "eval_every, patience, select_by, ...)."),
    Option("diffusion", "overrides", None, "Further options of the diffusion stage."),
    Option("classifier", "overrides", None, "Further options of the classifier stage."),
    Option("checkpoint_dir", "path", None, "Folder for resumable checkpoints; re-running with it resumes.",
           surfaces=_PY_CLI),
    Option("checkpoint_every", "int", 200, "Steps between checkpoints.", low=1, surfaces=_PY_CLI),
    PROGRESS,
))

GENERATE = Operation("generate", (
    N_CELLS,
    Option("condition", "condition", None,
           "Labels to guide to: {column: label}, several columns for a combination; a value may also be one "
           "label per cell."),
    GUIDANCE_SCALE, GUIDANCE, CFG_SCALE, DRAWN_CFG_SCALE, SAMPLER, N_STEPS, ETA, GUIDANCE_T_MAX, SEED, BATCH_SIZE,
    PROGRESS, GENES, PREFIX,
))

INTERPOLATE = Operation("interpolate", (
    Option("start_cells", "path", None, "Real cells with raw counts; those labelled `start` are the starting "
           "point (method two-ended: those labelled `start` and `end`).", required=True, r_name="x"),
    Option("labels_key", "str", None, "obs (colData) column whose classifier guides the interpolation.",
           required=True, deprecated_r=("labels",)),
    Option("start", "str", None, "Start label.", required=True, deprecated_r=("from",)),
    Option("end", "str", None, "End label.", required=True, deprecated_r=("to",)),
    Option("n_states", "int", 5, "Number of states from start to end.", low=2),
    Option("n_cells", "int", 100, "Cells per state.", low=1),
    Option("t_start", "int", None, "Noise level the start cells are diffused to, and where denoising begins "
           "(default: the method's -- 600 for gradient, the paper's; 50 for two-ended, whose blends of two real "
           "cells need less denoising: closer to held-out cells, benchmarks/README.md).", low=1, high="T-1"),
    Option("guidance_scale", "scale", GUIDANCE_SCALE.default, "Classifier guidance weight shared by the two "
           "labels, or one weight per column (only labels_key's applies).", low=0, high=1000),
    GUIDANCE,
    Option("cfg_scale", "scale", CFG_SCALE.default, "Classifier-free guidance weight shared by the two labels, or "
           "one weight per column (only labels_key's applies).", low=0, high=1000),
    SAMPLER, N_STEPS, ETA, GUIDANCE_T_MAX, LAYER, SEED, BATCH_SIZE, PROGRESS, GENES, PREFIX,
    Option("method", "choice", "auto", "How the states are made: two-ended (start and end cells paired by optimal "
           "transport in latent space, both noised with the same noise, blended spherically per state, then denoised "
           "with the mixed guidance), gradient (the paper's Gradient Interpolation: start cells noised to t_start, "
           "denoised with guidance moving from start to end), or auto (the default): two-ended when start_cells has "
           "cells of both labels -- closer to held-out cells than gradient on the simulated trajectory and on both "
           "held-out HSMM time points (benchmarks/README.md) -- otherwise gradient. Along a continuous column the "
           "same, by value: two-ended blends the cells at start and end at w = (value - start) / (end - start) and "
           "denoises at the value; auto is two-ended when start_cells has cells at both values and every value of "
           "at lies between them.",
           choices=("auto", "gradient", "two-ended")),
    Option("at", "floats", None, "Values of a continuous labels_key (one of continuous_keys) to make the states at, "
           "one state each, also values never measured (default: n_states values from start to end): real cells "
           "(method) noised to t_start are denoised by the denoiser conditioned at each value (classifier-free, "
           "cfg_scale; no classifier)."),
))

EVALUATE = Operation("evaluate", (
    Option("real", "path", None, "Real cells (held out from training).", required=True),
    Option("generated", "path", None, "Generated cells, same genes.", required=True),
    LABELS_KEY,
    Option("train", "path", None, "Training cells (for the memorisation check: are generated cells closer to "
           "training cells than held-out real cells are?).", r_default="NULL"),
    SEED,
    Option("quick", "bool", False, "Cheaper settings: fewer trees and cells, one control split, no kernel-density "
           "statistics or UMAP; the report lists what was skipped and why."),
    Option("max_cells", "int", None, "Cap on cells per side (default 2000 with quick, else 10000).", low=1),
    Option("use_celltypist", "bool", None, "Annotate with CellTypist (default: when it is installed).",
           surfaces=("python",)),
    Option("n_comps", "int", 50, "Principal components of the PCA-space metrics.", low=2),
    Option("real_counts_layer", "str", "auto", "Where the real cells' raw counts are: auto (layers['counts'], else "
           "an integer X), X, a layer name, or none (count-level metrics skipped).", surfaces=_PY_CLI),
    Option("generated_counts_layer", "str", "auto", "Where the generated cells' raw counts are (as for the real "
           "cells).", surfaces=_PY_CLI),
    Option("de_pairs", "pairs", None, "Label pairs A:B tested against each other (besides every label against "
           "the rest).", surfaces=_PY_CLI, cli_flag="--de-pair"),
    Option("min_cells_per_label", "int", 10, "Labels with fewer real or generated cells are left out of the "
           "per-label metrics.", low=2, surfaces=_PY_CLI),
    Option("n_control_repeats", "int", None, "Random real-vs-real splits per metric (default 3, 1 with quick).",
           low=1, surfaces=_PY_CLI),
    Option("pass_factor", "float", 2.0, "A metric passes when it is at most this many times as far from its ideal "
           "as the real-vs-real control.", low=1, surfaces=_PY_CLI),
))

OPERATIONS = {op.name: op for op in (TRAIN, GENERATE, INTERPOLATE, EVALUATE)}


def options_json() -> dict:
    """Every declaration as plain data (R's generated option table)."""
    return {name: op.to_dict() for name, op in OPERATIONS.items()}
