"""Checkpoints and final weights travel and are stored as safetensors blobs (cheaper than torch.save on
every epoch, no unpickling); the blobs older databases hold (the raw NNPSTATE1 format and torch.save files)
still load, and exports are torch.save files."""

import io
import json

import torch
from nnplayground.service.worker import RAW_MAGIC, load_state, state_bytes, torch_bytes
from safetensors.torch import load as safetensors_load


def _old_raw_bytes(state: dict) -> bytes:
    """The NNPSTATE1 format as the previous version wrote it (a copy of its writer, to make old blobs)."""
    header, chunks, offset = [], [], 0
    for name, value in state.items():
        t = value.detach().to("cpu").contiguous()
        data = t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""
        pad = -offset % 8
        if pad:
            chunks.append(b"\0" * pad)
            offset += pad
        header.append([name, str(t.dtype).removeprefix("torch."), list(t.shape), offset, t.numel()])
        chunks.append(data)
        offset += len(data)
    head = json.dumps(header, separators=(",", ":")).encode()
    return RAW_MAGIC + len(head).to_bytes(4, "little") + head + b"".join(chunks)


def _state() -> dict:
    m = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.BatchNorm1d(5), torch.nn.Linear(5, 3))
    s = dict(m.state_dict())  # includes an int64 scalar (num_batches_tracked)
    s["half"] = torch.ones(3, dtype=torch.bfloat16)
    s["flags"] = torch.tensor([True, False, True])
    s["empty"] = torch.empty(0, 4)
    s["scalar"] = torch.tensor(2.5)
    return s


def _same(a: dict, b: dict) -> None:
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and torch.equal(a[k], b[k]), k


def test_round_trip_keeps_order_dtypes_and_values():
    s = _state()
    blob = state_bytes(s)
    assert not blob.startswith(RAW_MAGIC)
    _same(s, load_state(blob))


def test_blobs_are_safetensors_files():
    s = _state()
    plain = safetensors_load(state_bytes(s))  # any safetensors reader opens them (names sorted there)
    assert sorted(plain) == sorted(s)
    assert all(torch.equal(plain[k], s[k]) for k in s)


def test_old_raw_blobs_still_load_and_export():
    s = _state()
    old = _old_raw_bytes(s)
    _same(s, load_state(old))
    _same(s, torch.load(io.BytesIO(torch_bytes(old)), weights_only=True))


def test_torch_save_blobs_still_load():
    s = _state()
    buf = io.BytesIO()
    torch.save(s, buf)
    _same(s, load_state(buf.getvalue()))
    assert torch_bytes(buf.getvalue()) == buf.getvalue()


def test_export_bytes_are_a_torch_save_file():
    s = _state()
    _same(s, torch.load(io.BytesIO(torch_bytes(state_bytes(s))), weights_only=True))


def test_loaded_state_fits_a_model():
    m = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    other = torch.nn.Sequential(torch.nn.Linear(2, 5), torch.nn.ReLU(), torch.nn.Linear(5, 3))
    other.load_state_dict(load_state(state_bytes(m.state_dict())))
    x = torch.randn(4, 2)
    assert torch.equal(m(x), other(x))


def test_numpy_path_writes_the_same_bytes_as_safetensors_torch():
    # state_bytes encodes numpy-representable states through safetensors.numpy (cheaper on every epoch): the blob
    # must be exactly what safetensors.torch.save writes, so every reader sees one format
    from nnplayground.jsonutil import dumps
    from safetensors.torch import save as torch_save

    s = {k: v for k, v in _state().items() if k != "half"}  # float32, int64, bool, empty and 0-d tensors
    assert state_bytes(s) == torch_save(s, metadata={"order": dumps(list(s))})
    _same(s, load_state(state_bytes(s)))


def test_bfloat16_states_take_the_torch_path():
    s = {"w": torch.arange(6, dtype=torch.bfloat16).reshape(2, 3), "b": torch.zeros(3)}
    _same(s, load_state(state_bytes(s)))
    assert safetensors_load(state_bytes(s))["w"].dtype == torch.bfloat16
