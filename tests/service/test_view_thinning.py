"""Stored histogram and surface views follow the checkpoints' thinning rule (`checkpoints.thin`): at
most `keep_views` per kind and run, the first, the best and the latest kept, the rest spread over the whole run."""

from nnplayground.service.store import Packed, StepWrite, Store


def test_views_of_a_long_run_are_thinned_evenly(db_url):
    store = Store(db_url, keep_views=20)
    try:
        store.insert_run("r1", '{"dataset": {"name": "spiral"}, "training": {"epochs": 1000}}', "c", 0.0)
        for e in range(0, 1001, 5):  # surface_every 5
            events = [
                Packed("epoch", e, f'{{"type":"epoch","epoch":{e}}}', f'{{"epoch":{e}}}'),
                Packed("surface", e, f'{{"type":"surface","epoch":{e}}}'),
            ]
            if e in (0, 35, 355):  # best epochs, off every stride the run reaches
                marker = f'{{"type":"marker","epoch":{e},"kind":"best","val_loss":{1 / (e + 1)}}}'
                events.append(Packed("marker", e, marker))
            assert store.apply_step("r1", StepWrite(events), None, None)
            stored = [epoch for epoch, _ in store.views_since("r1", "surface", -1)]
            assert len(stored) <= 20 and stored[0] == 0 and stored[-1] == e
            if e >= 355:
                assert 355 in stored
        assert 35 not in stored  # no longer the best: thinned like any other
        assert all(any(lo <= e < lo + 100 for e in stored) for lo in range(0, 1000, 100)), stored
        assert store.view("r1", "surface", 1000) == '{"type":"surface","epoch":1000}'
        assert store.views_since("r1", "histograms", -1) == []
    finally:
        store.close()
