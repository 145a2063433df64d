#!/bin/sh
# Reproduces the shipped default joint classifier (xrayinspect/models/default/).
# CPU, 2 cores, torch==2.13.0: about 8 minutes. Same seeds + same torch build -> same weights.
#   training:    600 simulated BGA frames, seeds 1000-1599 (25 % oblique), scored by xrayinspect and
#                cut at the segmented balls, as scoring cuts them
#   calibration: 64 frames, seeds 900000-900063, every ball: how scoring combines rules and model
#   held-out:    64 frames, seeds 910000-910063 (the card's per-class table)
set -e
xrayinspect train --synthetic-frames 600 --synthetic-seed 1000 --calib-frames 64 --calib-seed 900000 \
    --eval-frames 64 --eval-seed 910000 --epochs 40 --patience 40 --seed 0 \
    --out xrayinspect/models/default --quiet
xrayinspect export-onnx --model xrayinspect/models/default --out xrayinspect/models/default/model.onnx
# end to end on held-out seeds 7200000+ (rules vs rules + classifier, overhead): docs/classifier_eval.md
# and the card's last section (about 1 minute)
python scripts/evaluate_classifier.py --n 16 --size 1024 --out docs/classifier_eval.md --card --quiet
cp xrayinspect/models/default/config.json xrayinspect/models/default/thresholds.json \
    xrayinspect/models/default/metrics.json xrayinspect/models/default/MODEL_CARD.md models/default/
