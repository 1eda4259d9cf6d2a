"""The exported script computes the input features, the L1 penalty and the regression sets as the
engine does: its printed losses match the engine's (test_export_script's tolerance)."""

from __future__ import annotations

import pytest
from nnplayground.service import scriptgen
from test_export_script import assert_same, tiny


@pytest.mark.parametrize(
    "extra",
    [
        {"preprocessing": {"features": ["x1", "x1_squared", "x2_squared", "sin_x2", "x1_times_x2"]}},
        {"optimizer": {"l1": 0.01, "weight_decay": 0.01}},
        {"optimizer": {"name": "adamw", "l1": 0.01, "weight_decay": 0.1}},
        {"dataset": {"name": "multi_gauss", "n_samples": 80, "seed": 3}, "preprocessing": {"features": ["sin_x1"]}},
        {
            "dataset": {
                "name": "custom",
                "task": "regression",
                "points": [[i / 10, (i % 7) / 3, i / 20] for i in range(40)],
            }
        },
    ],
    ids=["features", "l1", "adamw-l1", "multi_gauss", "custom-regression"],
)
def test_the_script_reproduces_the_run(extra, tmp_path):
    assert_same(tiny(**extra), tmp_path)


def test_the_script_names_the_features_and_the_l1_term():
    text = scriptgen.script("x", tiny(preprocessing={"features": ["x2_squared", "x1"]}, optimizer={"l1": 0.002}))
    assert "return torch.stack([x2_squared(x), x1(x)], 1)" in text
    assert "def x2_squared(x):" in text and "loss = loss + l1_penalty(decayed, 0.002)" in text
