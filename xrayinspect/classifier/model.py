"""The network: a small CNN on 1 x 32 x 32 joint patches."""

import torch
from torch import nn

#: Output classes, in order.
CLASSES = ("good", "void", "bridge", "hip", "misaligned")
ARCH = "JointNet"


def _block(cin, cout):
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.MaxPool2d(2))


class JointNet(nn.Module):
    """Three conv blocks (``widths``), global average pooling, dropout, a linear head.

    Input ``(n, 1, H, W)`` float32 (H, W divisible by 8); output logits ``(n, n_classes)``.
    """

    def __init__(self, n_classes=len(CLASSES), widths=(16, 32, 64), dropout=0.2):
        super().__init__()
        layers, cin = [], 1
        for w in widths:
            layers.append(_block(cin, w))
            cin = w
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(cin, n_classes)

    def forward(self, x):
        x = self.pool(self.features(x)).flatten(1)
        return self.head(self.dropout(x))


def build_model(config):
    """A JointNet from a model folder's ``config.json`` dict."""
    if config.get("architecture") != ARCH:
        raise ValueError(f"unknown architecture {config.get('architecture')!r} (this xrayinspect knows {ARCH})")
    hp = config.get("hyperparameters", {})
    return JointNet(n_classes=len(config["classes"]), widths=tuple(hp.get("widths", (16, 32, 64))),
                    dropout=float(hp.get("dropout", 0.2)))
