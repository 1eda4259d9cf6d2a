"""Data augmentation: new training samples made fresh every epoch from the ones we have. The model
sees a rotated, zoomed or noisy digit as a new observation, though to us it is the same image."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .config import AugmentationConfig


def is_active(cfg: AugmentationConfig, is_image: bool) -> bool:
    return cfg.noise_std > 0 or (is_image and (cfg.rotation_deg > 0 or cfg.scale > 0 or cfg.shift > 0))


def augment(x: torch.Tensor, cfg: AugmentationConfig, gen: torch.Generator) -> torch.Tensor:
    """Return an augmented copy of a batch of preprocessed inputs (N, F) or (N, C, H, W)."""
    n = x.shape[0]
    if x.dim() == 4 and (cfg.rotation_deg > 0 or cfg.scale > 0 or cfg.shift > 0):

        def uniform(lim):
            return (torch.rand(n, generator=gen) * 2 - 1) * lim

        angle = uniform(math.radians(cfg.rotation_deg))
        zoom = 1 + uniform(cfg.scale)
        # affine_grid maps output to input coordinates in [-1, 1]: dividing by zoom enlarges the digit,
        # and a shift of s image-widths is 2*s in those units.
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos, -sin, uniform(2 * cfg.shift)], 1), torch.stack([sin, cos, uniform(2 * cfg.shift)], 1)], 1
        ).to(x)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        # Pad with the value of an empty pixel: images are mean-subtracted, so "empty" is not 0.
        background = x.amin(dim=(0, 1), keepdim=True)
        x = F.grid_sample(x - background, grid, align_corners=False, padding_mode="zeros") + background
    if cfg.noise_std > 0:
        x = x + torch.randn(x.shape, generator=gen).to(x) * cfg.noise_std
    return x


def preview(x: torch.Tensor, cfg: AugmentationConfig, n: int = 8, seed: int = 0) -> torch.Tensor:
    """N augmented versions of one sample (same shape as the sample, stacked): what the UI shows."""
    gen = torch.Generator().manual_seed(seed)
    return augment(x.unsqueeze(0).expand(n, *x.shape).clone(), cfg, gen)
