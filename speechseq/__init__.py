"""speechseq: offline trigger-word detection and speech recognition with recurrent sequence models.

Inference runs on onnxruntime alone (no torch); training needs the `train` extra.
"""
__version__ = "0.1.0"
