"""The run service: worker processes that train, SQLite persistence, and the live fan-out of
telemetry to websocket viewers. The web tier (nnplayground.api) talks to it through RunManager;
RunManager talks to the workers only through the Executor interface (executor.py)."""
