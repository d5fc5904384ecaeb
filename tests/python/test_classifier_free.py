"""Classifier-free guidance: the combination rule in closed form, and a trained label-conditioned denoiser."""

import numpy as np
import pytest
import torch

from conftest import SMALL_ARCH, make_counts
from scdiffusion import ScDiffusion
from scdiffusion.data import InputError
from scdiffusion.diffusion import ClassifierFreeGuidance
from scdiffusion.nn import SkipMLP

GEN = {"n_steps": 25, "progress": False}


class _Linear(torch.nn.Module):
    """ε(x, t, y) = x + Σ_k e_k[y_k]: every label adds its own vector (null labels add 0)."""

    def __init__(self):
        super().__init__()
        self.null_ids = {"a": 3, "b": 2}
        self.e = {"a": torch.tensor([[1.0, 0], [2.0, 0], [3.0, 0], [0, 0]]),
                  "b": torch.tensor([[0, 10.0], [0, 20.0], [0, 0]])}

    def forward(self, x, t, labels):
        return x + sum(self.e[k][labels[k]] for k in self.null_ids)


def test_combination_rule_in_closed_form():
    x, t = torch.zeros(3, 2), torch.zeros(3, dtype=torch.long)
    w_a = torch.tensor([[0.0, 2.0, 0.0], [0.5, 0.0, 1.5], [0.0, 0.0, 0.0]])  # one label, two labels, none
    w_b = torch.tensor([[0.0, 1.0], [0.0, 0.0], [3.0, 0.0]])
    eps = ClassifierFreeGuidance(_Linear(), {"a": w_a, "b": w_b})(x, t)
    # ε(∅) = 0; each term w · (ε(y_k = c) − ε(∅)) = w · e_k[c]
    expected = torch.tensor([[2 * 2.0, 1 * 20.0], [0.5 * 1.0 + 1.5 * 3.0, 0.0], [0.0, 3 * 10.0]])
    torch.testing.assert_close(eps, expected)
    # rows of a batch select their rows of the weight matrices
    torch.testing.assert_close(ClassifierFreeGuidance(_Linear(), {"a": w_a, "b": w_b})(x[1:], t[1:], slice(1, 3)),
                               expected[1:])



def test_joint_conditional_sets_every_column_and_selects_rows():
    from scdiffusion.diffusion import JointConditional

    x, t = torch.ones(3, 2), torch.zeros(3, dtype=torch.long)
    labels = {"a": torch.tensor([0, 2, 1]), "b": torch.tensor([1, 0, 0])}
    eps = JointConditional(_Linear(), labels)(x, t)
    torch.testing.assert_close(eps, torch.tensor([[2.0, 21.0], [4.0, 11.0], [3.0, 11.0]]))
    torch.testing.assert_close(JointConditional(_Linear(), labels)(x[1:], t[1:], slice(1, 3)), eps[1:])
    with pytest.raises(ValueError, match="exactly the denoiser's columns"):
        JointConditional(_Linear(), {"a": labels["a"]})
    # weight w: ε(∅) + w (ε(labels) − ε(∅)); here ε(∅) = x (null embeddings 0), so x + w · (e_a + e_b)
    for w in (0.0, 2.0, 3.5):
        torch.testing.assert_close(JointConditional(_Linear(), labels, w)(x, t), x + w * (eps - x))
    torch.testing.assert_close(JointConditional(_Linear(), labels, 2.0)(x[1:], t[1:], slice(1, 3)),
                               (x + 2.0 * (eps - x))[1:])

def test_unconditional_network_is_unchanged_by_the_option():
    torch.manual_seed(0)
    plain = SkipMLP(4, down=(8, 8, 4, 2), n_time=8, n_head=16)
    torch.manual_seed(0)
    cond = SkipMLP(4, down=(8, 8, 4, 2), n_time=8, n_head=16, n_classes={"a": 3})
    x, t = torch.randn(5, 4), torch.randint(0, 1000, (5,))
    # label embeddings start at zero and draw no random numbers: at initialisation, the same network
    torch.testing.assert_close(cond(x, t), plain(x, t))
    assert set(cond.state_dict()) - set(plain.state_dict()) == {"label_emb.0.weight"}


@pytest.fixture(scope="module")
def cfg_data():
    """Three cell types × two tissues, with the combination (type0, liver) removed from training."""
    a = make_counts()
    unseen = (a.obs["cell_type"] == "type0") & (a.obs["tissue"] == "liver")
    return a[~unseen.to_numpy()].copy(), a


@pytest.fixture(scope="module")
def cfg_model(cfg_data):
    train, _ = cfg_data
    m = ScDiffusion(train, labels_keys=["cell_type", "tissue"], device="cpu", seed=0, **SMALL_ARCH,
                    denoiser_hidden=(128, 128, 64, 32))
    m.train(progress=False, autoencoder={"max_steps": 300, "eval_every": 50, "patience": 0},
            diffusion={"max_steps": 1500, "eval_every": 100, "patience": 0},
            classifier={"max_steps": 150, "eval_every": 50, "patience": 0})
    return m


def test_classifier_free_guidance_steers_to_each_label_and_to_an_unseen_combination(cfg_model):
    m = cfg_model
    assert m.module.classifier_free and m.history["diffusion"]["label_dropout"] == 0.3
    called = lambda g, key, lab: np.mean(m.predict_labels(g, key, log_normalized=True) == lab)  # noqa: E731
    plain = m.generate(60, guidance="classifier", seed=1, **GEN)  # the null label, unguided
    for lab in ("type0", "type1", "type2"):
        g = m.generate(60, {"cell_type": lab}, guidance="classifier-free", seed=1, **GEN)
        assert called(g, "cell_type", lab) >= 0.9 > called(plain, "cell_type", lab) + 0.3
        assert g.uns["scdiffusion"]["guidance"] == "classifier-free"
    # never seen together in training: the per-column score differences add up. (The model's tissue classifier
    # never saw a liver type0 cell either, so the genes judge: type0 over-expresses genes 0-14, liver 45-59.)
    combo = m.generate(60, {"cell_type": "type0", "tissue": "liver"}, guidance="classifier-free", seed=1, **GEN)
    lung0 = m.generate(60, {"cell_type": "type0", "tissue": "lung"}, guidance="classifier-free", seed=1, **GEN)
    liver1 = m.generate(60, {"cell_type": "type1", "tissue": "liver"}, guidance="classifier-free", seed=1, **GEN)
    block = lambda g, genes: float(np.asarray(g.X)[:, genes].mean())  # noqa: E731
    type0, liver = slice(0, 15), slice(45, 60)
    assert called(combo, "cell_type", "type0") >= 0.8
    assert block(combo, type0) > block(liver1, type0) + 0.5
    # towards liver, though only part of the way on this toy (real liver cells: +2.0 over lung cells here)
    assert block(combo, liver) > block(lung0, liver) + 0.25


def test_guidance_weight_zero_is_unconditional_and_auto_picks_the_measured_default(cfg_model, cfg_data):
    plain = cfg_model.generate(10, guidance="classifier", seed=4, **GEN)
    zero = cfg_model.generate(10, {"cell_type": "type2"}, guidance="classifier-free", cfg_scale=0.0, seed=4, **GEN)
    np.testing.assert_allclose(zero.obsm["X_scdiffusion"], plain.obsm["X_scdiffusion"], atol=1e-6)
    auto = cfg_model.generate(5, {"cell_type": "type2"}, seed=4, **GEN)
    assert auto.uns["scdiffusion"]["guidance"] == "both"
    both = cfg_model.generate(5, {"cell_type": "type2"}, guidance="both", seed=4, **GEN)
    free = cfg_model.generate(5, {"cell_type": "type2"}, guidance="classifier-free", seed=4, **GEN)
    np.testing.assert_array_equal(both.obsm["X_scdiffusion"], auto.obsm["X_scdiffusion"])
    assert not np.allclose(both.obsm["X_scdiffusion"], free.obsm["X_scdiffusion"])
    _, real = cfg_data
    path = cfg_model.interpolate(real, "cell_type", "type1", "type2", n_states=2, n_cells=3, seed=0, **GEN)
    assert path.uns["scdiffusion"]["guidance"] == "classifier"


def test_classifier_free_interpolation_moves_from_start_to_end(cfg_model, cfg_data):
    _, real = cfg_data
    out = cfg_model.interpolate(real, "cell_type", "type1", "type2", n_states=3, n_cells=40, t_start=600,
                                guidance="classifier-free", cfg_scale=2.0, seed=0, **GEN)
    frac_end = [np.mean(cfg_model.predict_labels(out[out.obs["interpolation_state"] == s], "cell_type",
                                                 log_normalized=True) == "type2") for s in range(3)]
    assert frac_end[0] < 0.2 and frac_end[2] > 0.8 and frac_end[0] <= frac_end[1] <= frac_end[2]


def test_save_load_keeps_the_conditioned_denoiser(cfg_model, tmp_path):
    cfg_model.save(tmp_path / "m")
    loaded = ScDiffusion.load(tmp_path / "m", device="cpu")
    assert loaded.module.classifier_free
    a = cfg_model.generate(6, {"tissue": "lung"}, guidance="classifier-free", seed=3, **GEN)
    b = loaded.generate(6, {"tissue": "lung"}, guidance="classifier-free", seed=3, **GEN)
    np.testing.assert_array_equal(a.X, b.X)


def test_classifier_free_needs_a_model_trained_for_it():
    a = make_counts(n_cells=90)
    m = ScDiffusion(a, labels_keys=["cell_type"], device="cpu", seed=0, classifier_free=False, **SMALL_ARCH)
    m.train(progress=False, max_steps=5)
    assert not m.module.classifier_free
    with pytest.raises(InputError, match="classifier_free=False. Use guidance='classifier'"):
        m.generate(3, {"cell_type": "type0"}, guidance="classifier-free", **GEN)
    assert m.generate(3, {"cell_type": "type0"}, **GEN).uns["scdiffusion"]["guidance"] == "classifier"


def test_unconditional_cells_draw_their_labels_from_the_training_cells(cfg_model, cfg_data):
    # p(x) = sum over labels p(labels) p(x | labels): labels of random training cells, the conditional denoiser
    g = cfg_model.generate(300, seed=5, **GEN)
    params = g.uns["scdiffusion"]
    assert params["condition"] == {} and "training cells" in params["labels"]
    assert params["guidance"] == "classifier-free (drawn labels)" and params["cfg_scale"] == 2.0  # drawn_cfg_scale
    # the labels are recorded for what they are: drawn, not the cells' type
    assert "cell_type" not in g.obs and "tissue" not in g.obs
    for key in ("cell_type", "tissue"):  # joint draws: every column recorded, at the training frequencies
        freq = g.obs[f"{key}_drawn"].value_counts(normalize=True)
        real = cfg_data[0].obs[key].value_counts(normalize=True)
        assert np.abs(freq.reindex(real.index, fill_value=0) - real).max() < 0.1
    # the cells are those of their drawn labels: the model's classifier agrees with most of them
    drawn = g.obs["cell_type_drawn"].astype(str)
    assert np.mean(cfg_model.predict_labels(g, "cell_type", log_normalized=True) == drawn) > 0.7
    combos = set(zip(drawn, g.obs["tissue_drawn"].astype(str)))
    assert ("type0", "liver") not in combos  # never seen together in training: never drawn
    # same seed, same cells; guidance="classifier" keeps the null label and records no labels
    again = cfg_model.generate(300, seed=5, **GEN)
    np.testing.assert_array_equal(again.obsm["X_scdiffusion"], g.obsm["X_scdiffusion"])
    null = cfg_model.generate(20, guidance="classifier", seed=5, **GEN)
    assert "cell_type" not in null.obs and "cell_type_drawn" not in null.obs and "labels" not in null.uns["scdiffusion"]


def test_drawn_cfg_scale_weights_the_drawn_labels(cfg_model):
    """drawn_cfg_scale=1 is the conditional model unguided (one pass per step); 2 uses the same drawn labels and
    noise but sharpens each cell towards its labels: the classifier agrees with more."""
    one = cfg_model.generate(300, seed=6, drawn_cfg_scale=1.0, **GEN)
    two = cfg_model.generate(300, seed=6, drawn_cfg_scale=2.0, **GEN)
    assert one.uns["scdiffusion"]["guidance"] == "none" and one.uns["scdiffusion"]["cfg_scale"] == 1.0
    np.testing.assert_array_equal(one.obs["cell_type_drawn"], two.obs["cell_type_drawn"])
    assert not np.allclose(one.obsm["X_scdiffusion"], two.obsm["X_scdiffusion"])
    agree = [np.mean(cfg_model.predict_labels(g, "cell_type", log_normalized=True) == g.obs["cell_type_drawn"]
                     .astype(str)) for g in (one, two)]
    assert agree[1] >= agree[0]
    # only unconditional cells use it: with a condition, cfg_scale does, and drawn_cfg_scale changes nothing
    a = cfg_model.generate(5, {"cell_type": "type1"}, seed=6, drawn_cfg_scale=1.0, **GEN)
    b = cfg_model.generate(5, {"cell_type": "type1"}, seed=6, **GEN)
    np.testing.assert_array_equal(a.obsm["X_scdiffusion"], b.obsm["X_scdiffusion"])
    with pytest.raises(InputError, match="drawn_cfg_scale must be a number in \\[0, 1000\\]"):
        cfg_model.generate(5, seed=6, drawn_cfg_scale=-1, **GEN)


def test_default_drawn_cfg_scale_is_the_validation_choice_else_follows_the_training_cells(cfg_model, monkeypatch):
    """Unset, the weight of drawn labels is the one the model chose on its validation cells (E26); a model without a
    choice (older release, too few validation cells) gets 2 below 10,000 training cells and 1 from 10,000 (E24);
    the weight used is recorded; an explicit weight always wins."""
    import copy

    from scdiffusion.model.generation import chosen_drawn_cfg_scale, default_drawn_cfg_scale

    chosen = cfg_model.history["diffusion"]["drawn_weight"]["chosen"]
    assert chosen_drawn_cfg_scale(cfg_model.history) == chosen
    assert cfg_model.generate(20, seed=7, **GEN).uns["scdiffusion"]["cfg_scale"] == chosen
    history = copy.deepcopy(cfg_model.history)
    for w in (1.0, 2.0):  # the recorded choice is what generation uses
        history["diffusion"]["drawn_weight"]["chosen"] = w
        monkeypatch.setattr(cfg_model, "history", copy.deepcopy(history))
        g = cfg_model.generate(20, seed=7, **GEN)
        assert g.uns["scdiffusion"]["cfg_scale"] == w
        np.testing.assert_array_equal(g.obsm["X_scdiffusion"],
                                      cfg_model.generate(20, seed=7, drawn_cfg_scale=w, **GEN).obsm["X_scdiffusion"])
    # no choice recorded: the number of training cells decides
    del history["diffusion"]["drawn_weight"]
    monkeypatch.setattr(cfg_model, "history", history)
    assert chosen_drawn_cfg_scale(history) is None and chosen_drawn_cfg_scale({}) is None
    assert cfg_model.n_train_cells < 10_000
    assert cfg_model.generate(20, seed=7, **GEN).uns["scdiffusion"]["cfg_scale"] == 2.0
    assert [default_drawn_cfg_scale(n) for n in (None, 558, 9_999, 10_000, 1_000_000)] == [2.0, 2.0, 2.0, 1.0, 1.0]
    assert default_drawn_cfg_scale(558, chosen=1.0) == 1.0 and default_drawn_cfg_scale(50_000, chosen=2.0) == 2.0
    monkeypatch.setattr(cfg_model, "n_train_cells", 10_000)
    large = cfg_model.generate(20, seed=7, **GEN)
    one = cfg_model.generate(20, seed=7, drawn_cfg_scale=1.0, **GEN)
    assert large.uns["scdiffusion"]["cfg_scale"] == 1.0 and large.uns["scdiffusion"]["guidance"] == "none"
    np.testing.assert_array_equal(large.obsm["X_scdiffusion"], one.obsm["X_scdiffusion"])
    two = cfg_model.generate(20, seed=7, drawn_cfg_scale=2.0, **GEN)
    assert two.uns["scdiffusion"]["cfg_scale"] == 2.0 and not np.allclose(two.obsm["X_scdiffusion"],
                                                                          large.obsm["X_scdiffusion"])


def test_drawn_weight_is_chosen_on_validation_latents(cfg_model, monkeypatch):
    """Training records the weight of drawn labels whose generated latents are closest (MMD²) to the validation
    cells'; given latents of cells generated at weight w as the validation cells, the choice is w."""
    import torch.nn.functional as F

    from scdiffusion.train.drawn_weight import CANDIDATES, choose_drawn_weight

    rec = cfg_model.history["diffusion"]["drawn_weight"]
    assert rec["chosen"] in CANDIDATES and set(rec["scores"]) == {"1", "2"}
    assert rec["chosen"] == float(min(rec["scores"], key=rec["scores"].get))
    assert rec["n_validation"] == cfg_model.data.n_validation and rec["n_generated"] == 256
    # the autoencoder's round trip left out (encode: the unit latents themselves), the choice finds the weight
    monkeypatch.setattr(cfg_model.module, "encode", lambda x, batch_size=4096: F.normalize(x, dim=1))
    weights = (1.0, 2.0, 4.0)
    for w in weights:
        z = cfg_model.generate(300, seed=3, drawn_cfg_scale=w, **GEN).obsm["X_scdiffusion"]
        got = choose_drawn_weight(cfg_model.module, cfg_model.data.library, torch.from_numpy(z), seed=5,
                                  candidates=weights)
        assert got["chosen"] == w, got
        assert got == choose_drawn_weight(cfg_model.module, cfg_model.data.library, torch.from_numpy(z), seed=5,
                                          candidates=weights)  # repeatable
    # nothing to choose: too few validation cells
    assert choose_drawn_weight(cfg_model.module, cfg_model.data.library, torch.zeros(5, len(cfg_model.genes)),
                               seed=5) is None
