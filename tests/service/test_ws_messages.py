"""Client websocket messages are parsed by one pydantic TypeAdapter; a refused message gets the error frame
naming what is wrong (never echoing the value), on /ws/runs/{id} (run) and /ws/runs (list)."""

import json

import pytest
from nnplayground.api.routes.ws import CLIENT_MESSAGE, Control, Ping, _refusal
from pydantic import ValidationError

SPEED = "speed needs epochs_per_second between 0 and 1000"


def test_valid_messages_parse_to_their_model():
    assert CLIENT_MESSAGE.validate_python({"type": "ping", "id": 7}) == Ping(type="ping", id=7)
    assert CLIENT_MESSAGE.validate_python({"type": "ping", "id": True}).id is None  # not echoed
    msg = CLIENT_MESSAGE.validate_python({"type": "control", "action": "speed", "epochs_per_second": 5})
    assert isinstance(msg, Control) and (msg.action, msg.epochs_per_second) == ("speed", 5.0)


@pytest.mark.parametrize(
    "message,on_run,on_list",
    [
        ({"type": "ping", "id": "x" * 65}, "a ping id is a number or a string of at most 64 characters", None),
        ({"type": "control", "action": "dance"}, "unknown action; one of pause, resume, step, stop, speed", None),
        ({"type": "control", "action": "speed"}, SPEED, None),
        ({"type": "control", "action": "speed", "epochs_per_second": True}, SPEED, None),
        ({"type": "control", "action": "speed", "epochs_per_second": 1001}, SPEED, None),
        ({"type": "dance"}, "unknown message type; expected ping, control or weights", None),
    ],
)
def test_refusals_name_the_problem(message, on_run, on_list):
    with pytest.raises(ValidationError) as err:
        CLIENT_MESSAGE.validate_python(message)
    assert json.loads(_refusal(err.value, "run-1")) == {"type": "error", "message": on_run}
    listed = on_list or (on_run if message["type"] == "ping" else "unknown message type; expected ping")
    assert json.loads(_refusal(err.value, None))["message"] == listed
