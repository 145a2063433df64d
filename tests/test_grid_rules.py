"""Lattice rules of :mod:`xrayinspect.grid` that decide sites: the fit's start basis, edge joints, notches.

Each rule is checked on the development frame it came from (simulator truth)
and turned off to show the test can fail.
"""

import numpy as np
import pytest

from xrayinspect import grid
from xrayinspect.grid import _cut_from_their_site, _isolated_holes
from xrayinspect.io import read_frame, write_frame
from xrayinspect.pipeline import score_frame
from xrayinspect.synth import generate_frame


def _calls(seed, tmp_path, monkeypatch=None, **rules):
    """Truth and result of a 1024 px BGA development frame, exported as the set writes it, with ``grid`` rules set."""
    for name, value in rules.items():
        monkeypatch.setattr(grid, name, value)
    f = generate_frame(seed, package="bga", shape=(1024, 1024))
    path = tmp_path / ("frame" + f.suffix)
    write_frame(path, f.image, pixel_size_um=f.truth["pixel_size_um"], bits_used=f.truth["detector"]["bits_used"])
    image, meta = read_frame(path)
    return f.truth, score_frame(image, meta=meta)


def _near(p, qs, dist):
    return any(np.hypot(p[0] - q[0], p[1] - q[1]) < dist for q in qs)


@pytest.mark.parametrize("vote", [True, False])
def test_lattice_starts_from_the_basis_that_seats_most_balls(vote, tmp_path, monkeypatch):
    """A tiled frame whose bands cut every other column (6,810,000+32, 5 x 5 at 160 px): the
    whole balls stand two pitches apart across, and three cut ones made the steps' median a
    sheared 203 px vector; the square start seats them all, and no ball is extra."""
    truth, r = _calls((6810000, 32), tmp_path, monkeypatch, AFFINE_START_VOTE=vote)
    pitch = truth["scene"]["pitch_px"]
    extra = [j for j in r.joints if "extra" in j.defects and not j.partial]
    if vote:
        assert abs(r.grid["pitch_px"] / pitch - 1) < 0.05
        assert r.grid["rows"] == 5 and r.grid["cols"] == 5
        assert not extra
    else:
        assert len(extra) >= 4


@pytest.mark.parametrize("tolerance", [0.1, None])
def test_via_rings_cut_by_the_frame_edge_do_not_add_a_row(tolerance, tmp_path, monkeypatch):
    """The same frame: via rings cut by its top edge stand beyond the first row's next sites,
    on their outer side; with the side test they add no row, and no site there is missing."""
    truth, r = _calls((6810000, 32), tmp_path, monkeypatch, EDGE_SIDE_TOLERANCE=tolerance)
    pitch = truth["scene"]["pitch_px"]
    truth_missing = [(t["x_px"], t["y_px"]) for t in truth["joints"] if "missing" in t["defects"]]
    called = [(j.x_px, j.y_px) for j in r.joints if "missing" in j.defects]
    false = [q for q in called if not _near(q, truth_missing, 0.35 * pitch)]
    assert all(_near(p, called, 0.35 * pitch) for p in truth_missing)
    assert (len(false) == 0) == (tolerance is not None)


def test_edge_joint_on_the_outer_side_of_its_site_is_not_a_cut_ball():
    """Unit: a joint cut by the top edge whose centroid lies nearer the edge than its site is
    not a ball on it (a cut ball's remnant lies inland); one inland of its site is; one far
    from the frame's border (cut by a band) is kept."""
    origin, u, v = np.array([100.0, 60.0]), np.array([100.0, 0.0]), np.array([0.0, 100.0])
    pts = np.array([[100.0, 15.0],      # nearest site (0, 0) at y = 60, centroid 15 from the edge: outer side
                    [200.0, 62.0],      # a ball on site (0, 1) barely cut: inland of its site
                    [300.0, 150.0]])    # far from the border: judged elsewhere, kept
    kept = _cut_from_their_site(pts, origin, u, v, (400, 400), radius_px=20.0)
    assert [tuple(p) for p in kept] == [(200.0, 62.0), (300.0, 150.0)]


def _block(rows, cols, hole_rows, hole_cols):
    """Occupied sites of a ``rows x cols`` array less a designed-out block."""
    return {(r, c) for r in range(rows) for c in range(cols) if not (r in hole_rows and c in hole_cols)}


@pytest.mark.parametrize("notch", [True, False])
def test_empty_site_notching_a_depopulated_block_is_missing(notch, monkeypatch):
    """Unit: a 9 x 9 array with its centre 3 x 3 designed out; one ball gone from the block's
    straight edge is missing; the block's own sites and corners never are."""
    monkeypatch.setattr(grid, "NOTCH_HOLES", notch)
    occ = _block(9, 9, range(3, 6), range(3, 6))
    seen = np.ones((9, 9), bool)
    assert _isolated_holes(occ, 9, 9, seen) == set()
    occ.discard((2, 4))                   # the row above the block, its middle
    assert _isolated_holes(occ, 9, 9, seen) == ({(2, 4)} if notch else set())
    occ.add((2, 4))
    occ.discard((2, 3))                   # over the block's corner: a step, not a notch
    assert _isolated_holes(occ, 9, 9, seen) == set()


def test_staircase_edge_of_a_depopulated_region_has_no_notch():
    """Unit: a diagonal (staircase) edge of designed-out sites leaves no site with its two
    neighbours along the edge filled: nothing is called missing."""
    occ = {(r, c) for r in range(9) for c in range(9) if c < r}
    assert _isolated_holes(occ, 9, 9, np.ones((9, 9), bool)) == set()


@pytest.mark.parametrize("index", [19, 74, 90])
@pytest.mark.parametrize("notch", [True, False])
def test_missing_ball_on_the_edge_of_a_depopulated_block_is_called(index, notch, tmp_path, monkeypatch):
    """Development frames 6,810,000+19, +74, +90: a ball gone from the straight edge of the
    designed-out block (no bare pad seen) is missing with the notch rule, not without; no
    designed-out site is called."""
    truth, r = _calls((6810000, index), tmp_path, monkeypatch, NOTCH_HOLES=notch)
    pitch = truth["scene"]["pitch_px"]
    truth_missing = [(t["x_px"], t["y_px"]) for t in truth["joints"] if "missing" in t["defects"]]
    called = [(j.x_px, j.y_px) for j in r.joints if "missing" in j.defects]
    assert all(_near(q, truth_missing, 0.35 * pitch) for q in called)
    found = sum(_near(p, called, 0.35 * pitch) for p in truth_missing)
    assert (found == len(truth_missing)) == notch


def test_a_recipes_pitch_is_voted_on_where_the_neighbours_disagree(tmp_path, monkeypatch):
    """Development frame (6,700,000, 1), a double-sided board: a 4 x 4 array of 90 px balls at a
    160 px pitch with chip capacitors on the far side across its gaps. Their end caps made the
    neighbours' spacing 92 px; the recipe's pitch (0.7-1.4 of it only) was set aside, the lattice
    fitted 10 sites at a 92 px pitch and 7 of them were called missing. `grid.RECIPE_PITCH_VOTE`
    puts the recipe's pitch to the vote: 16 sites, the pitch within 1 %."""
    from xrayinspect.evaluation import Tally
    from xrayinspect.recipe import parse_recipe

    f = generate_frame((6_700_000, 1), package="bga", shape=(1024, 1024), underside_parts=True)
    path = tmp_path / ("frame" + f.suffix)
    write_frame(path, f.image, pixel_size_um=f.truth["pixel_size_um"], bits_used=f.truth["detector"]["bits_used"])
    image, meta = read_frame(path)
    recipe = parse_recipe(f.recipe)
    r = score_frame(image, meta=meta, recipe=recipe)
    t = Tally()
    t.add(f.truth, r)
    assert r.package == "bga" and r.n_sites == 16
    assert r.pitch_px == pytest.approx(160.0, rel=0.01)
    assert t.fp["missing"] == 0 and t.fp["extra"] == 0
    monkeypatch.setattr(grid, "RECIPE_PITCH_VOTE", False)
    r = score_frame(image, meta=meta, recipe=recipe)
    assert not r.pitch_px == pytest.approx(160.0, rel=0.1)
