#!/bin/sh
# Reproduces the shipped default joint classifier (xrayinspect/models/default/).
# CPU, 2 cores, torch==2.13.0: about 10 minutes. Same seeds + same torch build -> same weights.
set -e
xrayinspect train --synthetic-frames 400 --synthetic-seed 1000 --eval-frames 100 --eval-seed 900000 \
    --epochs 40 --patience 8 --seed 0 --out xrayinspect/models/default --quiet
xrayinspect export-onnx --model xrayinspect/models/default --out xrayinspect/models/default/model.onnx
# end-to-end figures for the card (rules vs rules + classifier on the scorer's segmentation, overhead):
# python scripts/evaluate_classifier.py --n 16 --size 1024 --out docs/classifier_eval.md
