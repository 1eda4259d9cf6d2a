"""nnplayground: a visual neural-network playground. The engine (nnplayground.engine) is pure
PyTorch; the web service and the browser code stand on it."""

__version__ = "0.1.0"
