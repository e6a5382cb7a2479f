"""sensorfusion-selfsup: self-supervised multi-view fusion in torch.

:mod:`sensorfusion_selfsup.camera` holds differentiable camera models (every model of the
core's union) and triangulation that other distributions reuse.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
