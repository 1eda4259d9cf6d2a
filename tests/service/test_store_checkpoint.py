"""WAL checkpoints run in the store's own thread, off the commit that publishes a run's events."""

import os
import time

from nnplayground.service.store import Packed, StepWrite, Store


def test_background_thread_checkpoints_the_wal(tmp_path):
    path = str(tmp_path / "s.db")
    store = Store(path)
    try:
        assert store.db._w.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        store.insert_run("r1", '{"dataset": {"name": "spiral"}, "training": {"epochs": 50}}', "c", 0.0)
        pad = "x" * 40_000
        for e in range(50):
            step = StepWrite(
                [
                    Packed("epoch", e, f'{{"type":"epoch","epoch":{e}}}', f'{{"epoch":{e}}}'),
                    Packed("surface", e, f'{{"type":"surface","epoch":{e},"z":"{pad}"}}'),
                ]
            )
            assert store.apply_step("r1", step, None, None)
        deadline = time.monotonic() + 5
        while os.path.getsize(path) < 1_000_000 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert os.path.getsize(path) >= 1_000_000  # the log reached the database file
        assert len(store.metrics("r1")) == 50
    finally:
        store.close()
    assert not store._checkpointer.is_alive()
