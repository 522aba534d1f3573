"""Shared test settings. Engine tests run in float64 and float32 against PyTorch and ONNX."""

import os

# Conformance tests compare against torch on the CPU; one thread keeps runs reproducible
# and avoids oversubscribing the 2-core CI machine while the browser tests run.
os.environ.setdefault("OMP_NUM_THREADS", "1")
