"""POST /api/data/preview: the data as the UI draws it before training (points, images, bounds),
with a strip of augmented training samples, so a student sees what a setting does to the data."""

from __future__ import annotations

import torch
from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ...engine import augmentation, datasets
from ...engine.config import AugmentationConfig, DatasetConfig, PreprocessingConfig

router = APIRouter(prefix="/data", tags=["data"])


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: DatasetConfig = Field(default_factory=DatasetConfig)
    preprocessing: PreprocessingConfig = Field(default_factory=PreprocessingConfig)
    augmentation: AugmentationConfig = Field(default_factory=AugmentationConfig)
    n_augmented: int = Field(8, ge=0, le=32, description="Augmented copies of the first training image.")


@router.post("/preview", summary="The data set as drawn before training, with augmented samples")
def preview(body: PreviewRequest) -> dict:
    view = datasets.view(body.dataset, body.preprocessing)
    view["augmented"] = []
    if body.dataset.name == "digits" and body.n_augmented and augmentation.is_active(body.augmentation, True):
        d = datasets.load(body.dataset, body.preprocessing)
        shown = augmentation.preview(d.x_train[0], body.augmentation, body.n_augmented) * d.scale + d.shift
        view["augmented"] = torch.round(shown[:, 0].clamp(0, 1).double(), decimals=3).tolist()
    return view
