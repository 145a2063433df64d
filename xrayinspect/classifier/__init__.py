"""Torch joint classifier: network, data, training and verified loading.

Importing this package imports torch (``pip install 'xrayinspect[torch]'``).
Scoring only needs :mod:`xrayinspect.classify`, which does not.
"""

from .load import TorchJointClassifier, load_model
from .model import CLASSES, JointNet

__all__ = ["JointNet", "CLASSES", "TorchJointClassifier", "load_model"]
