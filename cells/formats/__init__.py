"""Readers and writers behind `cells.weights_io`, one module per file format.

Every reader maps its layout onto the canonical PyTorch one (cells/params.py) and raises
ValueError naming the file, the tensor and the shapes when the file does not fit.
"""
