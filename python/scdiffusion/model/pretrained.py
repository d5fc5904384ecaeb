"""Loading pretrained SCimilarity autoencoder weights, mapped onto the user's genes.

A SCimilarity model folder holds ``encoder.ckpt`` and ``decoder.ckpt`` (``{"state_dict": …}``),
``gene_order.tsv`` (one gene per line) and ``layer_sizes.json`` (encoder parameter name → shape).
Checkpoints are read with ``torch.load(weights_only=True)``: no pickled code runs.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from ..data.validation import InputError
from ..nn.autoencoder import Autoencoder

logger = logging.getLogger(__name__)

REQUIRED_FILES = ("encoder.ckpt", "decoder.ckpt", "gene_order.tsv", "layer_sizes.json")


@dataclass
class PretrainedSCimilarity:
    """Weights and gene order of a SCimilarity model folder."""

    path: Path
    genes: list[str]
    hidden: tuple[int, ...]
    n_latent: int
    encoder_state: dict[str, torch.Tensor]
    decoder_state: dict[str, torch.Tensor]

    @classmethod
    def read(cls, path: str | Path) -> PretrainedSCimilarity:
        path = Path(path)
        if not path.is_dir():
            raise InputError(f"Pretrained model folder '{path}' does not exist.")
        missing = [f for f in REQUIRED_FILES if not (path / f).exists()]
        if missing:
            raise InputError(
                f"'{path}' is not a SCimilarity model folder: missing {missing}. "
                f"It must hold {', '.join(REQUIRED_FILES)}."
            )
        genes = [g.strip() for g in (path / "gene_order.tsv").read_text().splitlines() if g.strip()]
        sizes = json.loads((path / "layer_sizes.json").read_text())
        weights = [(k, v) for k, v in sorted(sizes.items()) if k.endswith("weight") and len(v) > 1]
        if len(weights) < 2:
            raise InputError(f"layer_sizes.json in '{path}' does not describe an encoder.")
        hidden = tuple(int(v[0]) for _, v in weights[:-1])
        n_latent = int(weights[-1][1][0])
        enc = _read_state(path / "encoder.ckpt")
        dec = _read_state(path / "decoder.ckpt")
        first = enc.get("network.0.1.weight")
        if first is None or first.shape[1] != len(genes):
            raise InputError(
                f"encoder.ckpt in '{path}' does not match gene_order.tsv ({len(genes)} genes)."
            )
        return cls(path, genes, hidden, n_latent, enc, dec)

    def init_autoencoder(self, model: Autoencoder, genes: list[str]) -> dict:
        """Copy the pretrained weights into ``model`` (built over ``genes``).

        Every gene-independent layer is copied as is. For the gene-dependent first encoder layer and last
        decoder layer, the rows/columns of genes shared with the pretrained gene order are copied (exact
        names first, then case-insensitive), and the others keep their fresh initialisation.

        Returns
        -------
        A summary: number of shared genes and of copied tensors.
        """
        exact = {g: i for i, g in enumerate(self.genes)}
        upper = {g.upper(): i for i, g in enumerate(self.genes)}
        pairs = []
        for j, g in enumerate(genes):
            i = exact.get(g, upper.get(g.upper()))
            if i is not None:
                pairs.append((j, i))
        if not pairs:
            logger.warning("No gene is shared with the pretrained model; only hidden layers are reused.")
        user_idx = torch.tensor([p[0] for p in pairs], dtype=torch.long)
        pre_idx = torch.tensor([p[1] for p in pairs], dtype=torch.long)
        n_last = len(model.decoder.network) - 1
        gene_dep_enc = {"network.0.1.weight"}
        gene_dep_dec = {f"network.{n_last}.weight", f"network.{n_last}.bias"}
        n_copied = 0
        with torch.no_grad():
            for module, state, gene_dep in ((model.encoder, self.encoder_state, gene_dep_enc),
                                            (model.decoder, self.decoder_state, gene_dep_dec)):
                own = module.state_dict()
                for name, value in state.items():
                    if name not in own:
                        continue
                    target = own[name]
                    if name in gene_dep:
                        if name == "network.0.1.weight":
                            target[:, user_idx] = value[:, pre_idx].to(target.dtype)
                        else:
                            target[user_idx] = value[pre_idx].to(target.dtype)
                    elif target.shape == value.shape:
                        target.copy_(value)
                    else:
                        raise InputError(
                            f"Pretrained tensor {name} has shape {tuple(value.shape)}, expected {tuple(target.shape)}."
                        )
                    n_copied += 1
                module.load_state_dict(own)
        summary = {"path": str(self.path), "n_pretrained_genes": len(self.genes), "n_shared_genes": len(pairs),
                   "n_tensors_copied": n_copied}
        logger.info("Pretrained SCimilarity weights: %d of %d genes mapped, %d tensors copied.",
                    len(pairs), len(genes), n_copied)
        return summary


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001
        raise InputError(
            f"Could not load '{path}' as a plain-tensor checkpoint ({type(err).__name__}). Files that need "
            "arbitrary pickled objects are refused; re-save it as {'state_dict': model.state_dict()}."
        ) from err
    state = ckpt.get("state_dict", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"'{path}' does not hold a state dict of tensors.")
    return state
