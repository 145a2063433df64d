"""Board traces crossing a ball, continued through it before voids are sought.

A trace under a ball adds a stripe of attenuation across it; the void search
fits the ball's peak on the stripe and reads the rest of the ball as void.
``xrayinspect.traces.crossing_traces`` continues the trace from where it
enters and leaves the ring outside the ball.
"""

import numpy as np
import pytest

from xrayinspect import bga, voids
from xrayinspect.evaluation import match
from xrayinspect.pipeline import score_frame
from xrayinspect.synth import generate_frame
from xrayinspect.testing.boards import dome_board
from xrayinspect.traces import crossing_traces

R = 14.0            # ball radius, px
PITCH = 40
SIDE = 5


def _board(seed=0):
    """A 5 x 5 array of blurred dome balls with a little noise: ``(att, labels, centres)``."""
    att, labels, centres = dome_board(SIDE, PITCH, R, blur_sigma=1.2, noise=0.01, label_shrink=0.5, seed=seed)
    return att.astype(np.float32), labels, centres


def _stripe(shape, through, angle_deg, width=5.0, height=0.25):
    """A straight trace of ``height`` attenuation through point ``through`` at ``angle_deg``."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    t = np.radians(angle_deg)
    dist = np.abs(-(xx - through[0]) * np.sin(t) + (yy - through[1]) * np.cos(t))
    return (height * (dist <= width / 2)).astype(np.float32)


@pytest.mark.parametrize("angle, offset", [(20.0, 0.0), (75.0, 5.0), (-40.0, -6.0)])
def test_a_trace_across_a_ball_is_continued_through_it(angle, offset):
    att, labels, centres = _board()
    k = 13                                        # the middle ball
    cx, cy = centres[k]
    t = np.radians(angle)
    through = (cx - offset * np.sin(t), cy + offset * np.cos(t))
    stripe = _stripe(att.shape, through, angle)
    found = crossing_traces(att + stripe, labels, SIDE * SIDE)
    ball = labels == k
    # the stripe is found where it is, at about its height (the ring's
    # 6-degree smoothing blurs its edges)
    assert np.abs(found[ball] - stripe[ball]).sum() < 0.35 * stripe[ball].sum()
    assert found[ball & (stripe > 0)].mean() > 0.6 * 0.25
    assert found[ball & (stripe == 0)].mean() < 0.05 * 0.25


def _segment(shape, centre, angle_deg, half_length):
    """A trace ``half_length`` px either side of ``centre``."""
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]].astype(float)
    t = np.radians(angle_deg)
    along = np.abs((xx - centre[0]) * np.cos(t) + (yy - centre[1]) * np.sin(t))
    return _stripe(shape, centre, angle_deg) * (along <= half_length)


def test_only_the_crossed_ball_is_corrected():
    att, labels, centres = _board(seed=1)
    trace = _segment(att.shape, centres[7], 30.0, R + 8)     # across ball 7, short of its neighbours
    found = crossing_traces(att + trace, labels, SIDE * SIDE)
    assert found[labels == 7].max() > 0.6 * 0.25
    assert not found[(labels > 0) & (labels != 7)].any()


def test_a_trace_that_ends_under_the_ball_is_not_continued():
    """A stub that stops under the ball (a pad's dog-bone) has one end only: no chord to continue."""
    att, labels, centres = _board(seed=2)
    cx, cy = centres[13]
    stub = _stripe(att.shape, (cx, cy), 0.0)
    yy, xx = np.mgrid[0:att.shape[0], 0:att.shape[1]]
    stub[(xx < cx) | (np.abs(yy - cy) > 10)] = 0      # from the centre out to the right only
    crossing = _segment(att.shape, centres[7], 30.0, R + 8)
    found = crossing_traces(att + stub + crossing, labels, SIDE * SIDE)
    assert not found[labels == 13].any()
    assert found[labels == 7].max() > 0.6 * 0.25


def test_traces_crossing_balls_are_not_read_as_voids(monkeypatch):
    """Simulator truth, development frames at 1024 px (6,700,000 + 12 and + 29).

    Three balls crossed by a board trace (truth 0.0, 4.1 and 5.2 % void) read
    28-34 % without the correction: three false void calls. (With voids seeded
    at 0.10 of the peak, 2026-12-06 night, one of them reads 17.5 % without it;
    the rule-off reading is taken with seeds at 0.15, where the rule was found.)
    """
    cases = {12: [(7, 3), (10, 7)], 29: [(17, 14)]}
    for index, sites in cases.items():
        frame = generate_frame((6_700_000, index), package="bga", shape=(1024, 1024))
        truth = {(t["grid_row"], t["grid_col"]): t for t in frame.truth["joints"]}
        reads = {}
        for on in (False, True):
            with monkeypatch.context() as m:
                m.setattr(bga, "TRACES_THROUGH", on)
                if not on:
                    m.setattr(voids, "SEED_FRACTION", 0.15)
                result = score_frame(frame.image)
            pairs, _, _ = match(frame.truth["joints"], result.joints)
            by_site = {(frame.truth["joints"][a]["grid_row"], frame.truth["joints"][a]["grid_col"]):
                       result.joints[b] for a, b in pairs}
            reads[on] = {s: by_site[s] for s in sites}
        for s in sites:
            assert truth[s]["void_pct"] < 10
            assert reads[False][s].void_pct > 25 and "void" in reads[False][s].defects
            assert reads[True][s].void_pct < 15 and "void" not in reads[True][s].defects


def test_a_band_as_dense_as_a_ball_is_not_taken_for_a_trace():
    """A part on the board's far side across a ball attenuates like solder, not like thin copper."""
    att, labels, centres = _board(seed=3)
    part = _segment(att.shape, centres[13], 90.0, R + 8) * (0.6 / 0.25)
    trace = _segment(att.shape, centres[7], 30.0, R + 8)
    found = crossing_traces(att + part + trace, labels, SIDE * SIDE)
    assert not found[labels == 13].any()
    assert found[labels == 7].max() > 0.6 * 0.25


def test_a_trace_too_faint_to_take_off_is_reported_with_its_height():
    """A trace of 4 % of a ball's peak is under ``MIN_BUMP``: left in the ball, but its height
    is reported (head-in-pillow discounts the rise of peak it causes); one taken off is not."""
    from xrayinspect import traces

    att, labels, centres = _board(seed=3)
    peak = float(att[labels == 13].max())
    faint = _segment(att.shape, centres[13], 20.0, R + 8) * (0.04 * peak / 0.25)
    strong = _segment(att.shape, centres[7], 30.0, R + 8)
    found, bumps = crossing_traces(att + faint + strong, labels, SIDE * SIDE, with_bumps=True)
    assert not found[labels == 13].any()
    assert 0.5 * 0.04 < bumps[13] < 1.5 * 0.04
    assert found[labels == 7].max() > 0.6 * 0.25 and bumps[7] == 0.0
    others = np.setdiff1d(np.arange(1, SIDE * SIDE), [7, 13])
    assert (bumps[others] < traces.MIN_BUMP).all()
    assert np.array_equal(found, crossing_traces(att + faint + strong, labels, SIDE * SIDE))
