"""Stored histogram and surface views follow the checkpoints' thinning rule (`checkpoints.thin`): at
most `keep_views` per kind and run, the first and the latest kept, the rest spread over the whole run."""

from nnplayground.service.store import Packed, StepWrite, Store


def test_views_of_a_long_run_are_thinned_evenly(tmp_path):
    store = Store(str(tmp_path / "s.db"), keep_views=20)
    try:
        store.insert_run("r1", '{"dataset": {"name": "spiral"}, "training": {"epochs": 1000}}', "c", 0.0)
        for e in range(0, 1001, 5):  # surface_every 5
            step = StepWrite(
                [
                    Packed("epoch", e, f'{{"type":"epoch","epoch":{e}}}', f'{{"epoch":{e}}}'),
                    Packed("surface", e, f'{{"type":"surface","epoch":{e}}}'),
                ]
            )
            assert store.apply_step("r1", step, None, None)
            stored = [epoch for epoch, _ in store.views_since("r1", "surface", -1)]
            assert len(stored) <= 20 and stored[0] == 0 and stored[-1] == e
        assert all(any(lo <= e < lo + 100 for e in stored) for lo in range(0, 1000, 100)), stored
        assert store.view("r1", "surface", 1000) == '{"type":"surface","epoch":1000}'
        assert store.views_since("r1", "histograms", -1) == []
    finally:
        store.close()
