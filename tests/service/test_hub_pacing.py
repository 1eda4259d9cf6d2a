"""The hub paces views (histograms, surfaces) per run: every record and marker reaches every viewer,
views at most `view_rate` per second each, the latest wins, and the last one is always delivered."""

import asyncio

from nnplayground.service.hub import Hub


def _step(epoch: int, end: bool = False) -> list:
    items = [
        ("epoch", f'{{"type":"epoch","epoch":{epoch}}}', f'{{"epoch":{epoch}}}', epoch),
        ("histograms", f'{{"type":"histograms","epoch":{epoch}}}', None, epoch),
        ("surface", f'{{"type":"surface","epoch":{epoch}}}', None, epoch),
    ]
    if epoch % 3 == 0:
        items.append(("marker", f'{{"type":"marker","epoch":{epoch}}}', None, epoch))
    if end:
        items.append(("run_end", '{"type":"run_end"}', None, epoch))
    return items


async def _watch(view_rate: float, steps: list, wait: float = 0.0) -> list[str]:
    hub = Hub(max_frames=10_000, view_rate=view_rate)
    hub.bind(asyncio.get_running_loop())
    got: list[str] = []

    async def send(text: str) -> None:
        got.append(text)

    sub = hub.subscriber(send)
    hub.join("r", sub)
    task = asyncio.create_task(sub.run())
    for items in steps:
        hub._publish("r", items)
        await asyncio.sleep(0)
    await asyncio.sleep(wait)
    await asyncio.sleep(0.01)
    hub.leave("r", sub)
    task.cancel()
    return got


def _kinds(got: list[str], kind: str) -> list[str]:
    return [t for t in got if t.startswith(f'{{"type":"{kind}"')]


def test_unpaced_hub_forwards_every_view():
    got = asyncio.run(_watch(0, [_step(e) for e in range(1, 11)]))
    assert len(_kinds(got, "surface")) == 10 and len(_kinds(got, "histograms")) == 10


def test_paced_views_skip_intermediate_ones_but_keep_every_record_and_marker():
    got = asyncio.run(_watch(5, [_step(e) for e in range(1, 21)], wait=0.3))
    assert [t for t in got if '"epoch"' in t[:16]] == [f'{{"type":"epoch","epoch":{e}}}' for e in range(1, 21)]
    assert len(_kinds(got, "marker")) == 6
    surfaces = _kinds(got, "surface")
    assert surfaces[0].endswith('"epoch":1}') and surfaces[-1].endswith('"epoch":20}')  # first and latest
    assert len(surfaces) == 2 and len(_kinds(got, "histograms")) == 2
    assert got.index(surfaces[-1]) > got.index('{"type":"epoch","epoch":20}')  # held, sent when due


def test_final_views_go_out_before_run_end():
    got = asyncio.run(_watch(1, [_step(e, end=e == 5) for e in range(1, 6)]))
    surfaces = _kinds(got, "surface")
    assert surfaces[-1].endswith('"epoch":5}')
    assert got.index(surfaces[-1]) < got.index('{"type":"run_end"}') == len(got) - 1


def test_lobby_status_frames_are_coalesced_per_run_and_keep_their_order():
    """A client toggling pause/resume 1000 times sends the lobby one status per run per interval, the
    latest; a frame announced without a key (run_deleted) is never overtaken by an older status."""

    async def go() -> list[str]:
        hub = Hub(lobby_interval=0.05)
        hub.bind(asyncio.get_running_loop())
        got: list[str] = []

        async def send(text: str) -> None:
            got.append(text)

        sub = hub.subscriber(send)
        hub.join(None, sub)
        task = asyncio.create_task(sub.run())
        for i in range(1000):
            hub._announce(f'{{"type":"status","id":"a","n":{i}}}', "a")
        hub._announce('{"type":"status","id":"b","n":0}', "b")
        await asyncio.sleep(0.1)
        hub._announce('{"type":"status","id":"a","n":1000}', "a")
        hub._announce('{"type":"run_deleted","id":"a"}')
        await asyncio.sleep(0.1)
        hub.leave(None, sub)
        task.cancel()
        return got

    got = asyncio.run(go())
    assert got == [
        '{"type":"status","id":"a","n":999}',
        '{"type":"status","id":"b","n":0}',
        '{"type":"status","id":"a","n":1000}',
        '{"type":"run_deleted","id":"a"}',
    ]


def test_a_subscriber_that_leaves_lets_go_of_its_buffers():
    async def go():
        hub = Hub(max_frames=2)
        hub.bind(asyncio.get_running_loop())

        async def send(text: str) -> None:
            await asyncio.sleep(10)  # a socket that never drains

        sub = hub.subscriber(send)
        hub.join("r", sub)
        for e in range(1, 50):
            hub._publish("r", _step(e))
        sub.reply("x")
        assert sub.frames or sub.coalescing is not None
        hub.leave("r", sub)
        return sub, hub

    sub, hub = asyncio.run(go())
    assert not sub.frames and sub.coalescing is None and not sub.replies and hub.viewers() == 0


def test_a_viewer_drops_epochs_its_snapshot_had_even_after_the_hand_over():
    """A step stored before the snapshot was read can reach the hub after it was sent (the distributed
    backend appends to the stream after the store): its epoch is not sent twice; later epochs, and a
    marker at the snapshot's last epoch (a weight edit while paused), still go out."""

    async def main() -> list[str]:
        hub = Hub(max_frames=100)
        hub.bind(asyncio.get_running_loop())
        got: list[str] = []

        async def send(text: str) -> None:
            got.append(text)

        sub = hub.subscriber(send)
        sub.holding = []
        hub.join("r", sub)
        task = asyncio.create_task(sub.run())
        hub._publish("r", _step(4)[:1])  # held while the snapshot (up to epoch 5) is read: dropped
        sub.release(5, False)
        hub._publish("r", _step(5)[:1] + [("marker", '{"type":"marker","epoch":5}', None, 5)])
        hub._publish("r", _step(6)[:1])
        await asyncio.sleep(0.01)
        hub.leave("r", sub)
        task.cancel()
        return got

    got = asyncio.run(main())
    assert got == ['{"type":"marker","epoch":5}', '{"type":"epoch","epoch":6}']
