"""The diffusion process, samplers and guidance. The denoising network is passed in, never owned."""

from .classifier_free import ClassifierFreeGuidance, JointConditional
from .guidance import ClassifierGuidance
from .samplers import SAMPLERS, DDIMSampler, DDPMSampler, DPMSolverSampler, Sampler, make_sampler
from .sampling import sample_loop
from .schedule import GaussianDiffusion

__all__ = ["SAMPLERS", "ClassifierFreeGuidance", "JointConditional", "ClassifierGuidance", "DDIMSampler", "DDPMSampler",
           "DPMSolverSampler", "GaussianDiffusion", "Sampler", "make_sampler", "sample_loop"]
