"""Fine-tuning from a SCimilarity model folder, with genes mapped onto the pretrained gene order."""

import json
import pickle

import pytest
import torch

from conftest import make_counts
from scdiffusion import ScDiffusion
from scdiffusion.data import InputError
from scdiffusion.nn.autoencoder import Decoder, Encoder


def _write_scimilarity(path, genes, hidden=(32, 32), n_latent=8, seed=0):
    torch.manual_seed(seed)
    enc, dec = Encoder(len(genes), n_latent, hidden), Decoder(len(genes), n_latent, tuple(reversed(hidden)))
    path.mkdir()
    torch.save({"state_dict": enc.state_dict()}, path / "encoder.ckpt")
    torch.save({"state_dict": dec.state_dict()}, path / "decoder.ckpt")
    (path / "gene_order.tsv").write_text("\n".join(genes) + "\n")
    sizes = {k: list(v.shape) for k, v in enc.state_dict().items()}
    (path / "layer_sizes.json").write_text(json.dumps(sizes))
    return enc, dec


def test_pretrained_weights_are_mapped_onto_user_genes(tmp_path):
    a = make_counts(n_cells=60, n_genes=30)
    pre_genes = [g.upper() for g in a.var_names[::-1][:20]] + ["OTHER1", "OTHER2"]  # reversed, upper-case, 20 shared
    enc, dec = _write_scimilarity(tmp_path / "scim", pre_genes)
    m = ScDiffusion(a, pretrained=tmp_path / "scim", device="cpu")
    assert m.arch["hidden"] == [32, 32] and m.arch["n_latent"] == 8
    assert m.pretrained_summary["n_shared_genes"] == 20
    user = {g.upper(): j for j, g in enumerate(m.genes)}
    w_user = m.autoencoder.encoder.network[0][1].weight.detach()
    w_pre = enc.network[0][1].weight.detach()
    for i, g in enumerate(pre_genes[:20]):
        torch.testing.assert_close(w_user[:, user[g]], w_pre[:, i])
    torch.testing.assert_close(m.autoencoder.encoder.network[1][1].weight, enc.network[1][1].weight)
    last_user = m.autoencoder.decoder.network[-1]
    for i, g in enumerate(pre_genes[:20]):
        torch.testing.assert_close(last_user.bias[user[g]], dec.network[-1].bias[i])


def test_pretrained_checkpoint_with_code_is_refused_without_running_it(tmp_path):
    genes = [f"gene{i}" for i in range(30)]
    _write_scimilarity(tmp_path / "scim", genes)
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    (tmp_path / "scim" / "encoder.ckpt").write_bytes(pickle.dumps({"state_dict": Evil()}))
    with pytest.raises(InputError, match="plain-tensor checkpoint"):
        ScDiffusion(make_counts(n_cells=60, n_genes=30), pretrained=tmp_path / "scim", device="cpu")
    assert not marker.exists()


def test_incomplete_pretrained_folder(tmp_path):
    (tmp_path / "scim").mkdir()
    with pytest.raises(InputError, match="missing"):
        ScDiffusion(make_counts(n_cells=60), pretrained=tmp_path / "scim", device="cpu")
