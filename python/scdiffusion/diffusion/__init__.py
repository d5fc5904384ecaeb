"""The diffusion process, samplers and guidance. The denoising network is passed in, never owned."""

from .guidance import ClassifierGuidance
from .samplers import SAMPLERS, DDIMSampler, DDPMSampler, Sampler
from .sampling import sample_loop
from .schedule import GaussianDiffusion

__all__ = ["SAMPLERS", "ClassifierGuidance", "DDIMSampler", "DDPMSampler", "GaussianDiffusion", "Sampler",
           "sample_loop"]
