"""Neural-network building blocks. Pure torch: tensors in, tensors out."""

from .autoencoder import Autoencoder, Decoder, Encoder
from .backbone import SkipMLP
from .classifier import NoisyClassifier
from .embedding import timestep_embedding

__all__ = ["Autoencoder", "Decoder", "Encoder", "NoisyClassifier", "SkipMLP", "timestep_embedding"]
