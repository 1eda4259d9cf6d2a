import os
import tempfile

# The built-in transfer source is cached on disk: keep the suite's copy out of the user's home.
os.environ.setdefault("NNPLAYGROUND_CACHE", os.path.join(tempfile.gettempdir(), "nnplayground-test-cache"))
