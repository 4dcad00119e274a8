"""Domain shifts from real transformations, and the multi-domain dataset built from them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from weightzoo.data import DataError
from weightzoo.data.domains import (
    DOMAIN_SHIFTS,
    DomainData,
    apply_shift,
    leave_one_domain_out,
    make_domain_data,
    parse_domain,
)


def _images(n: int = 6, size: int = 12) -> torch.Tensor:
    return torch.randn(n, 1, size, size, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize("name", sorted(DOMAIN_SHIFTS))
def test_every_shift_keeps_shape_and_is_deterministic(name: str) -> None:
    images = _images()
    out = apply_shift(images, name, seed=3)
    assert out.shape == images.shape and out.dtype == torch.float32
    assert torch.equal(out, apply_shift(images, name, seed=3))
    if name != "identity":
        assert not torch.allclose(out, images)
    if name not in ("rotate",):  # every other shift also takes 1-D signals (mnist1d)
        assert apply_shift(torch.randn(4, 1, 40), name).shape == (4, 1, 40)


def test_rotation_by_90_degrees_is_rot90_counter_clockwise() -> None:
    images = _images()
    rotated = apply_shift(images, "rotate:90")
    torch.testing.assert_close(rotated, torch.rot90(images, k=1, dims=(2, 3)), atol=1e-5, rtol=0)
    torch.testing.assert_close(apply_shift(images, "rotate:0"), images, atol=1e-5, rtol=0)


def test_noise_contrast_invert_and_scale_follow_their_definitions() -> None:
    images = torch.zeros(200, 1, 16, 16)
    noisy = apply_shift(images, "noise:0.5")
    assert noisy.std().item() == pytest.approx(0.5, rel=0.02)
    x = _images()
    low = apply_shift(x, "contrast:0.25")
    torch.testing.assert_close(low.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3)))
    torch.testing.assert_close(low.std(dim=(1, 2, 3)), 0.25 * x.std(dim=(1, 2, 3)))
    torch.testing.assert_close(apply_shift(x, "invert"), -x)
    torch.testing.assert_close(apply_shift(x, "scale_translate:1"), x, atol=1e-5, rtol=0)
    # A single bright pixel at the centre moves towards the bottom-right and spreads less far.
    dot = torch.zeros(1, 1, 20, 20)
    dot[0, 0, 9:11, 9:11] = 1.0
    moved = apply_shift(dot, "scale_translate:0.5")[0, 0]
    rows, cols = torch.nonzero(moved > 0.1, as_tuple=True)
    assert rows.float().mean() > 12 and cols.float().mean() > 12
    # Blur keeps the total mass of an interior blob and lowers its peak.
    blurred = apply_shift(dot, "blur:1.0")
    assert blurred.sum().item() == pytest.approx(4.0, rel=1e-5)
    assert blurred.max().item() < 0.5


def test_bad_domain_specs() -> None:
    with pytest.raises(DataError, match="unknown shift 'twist'"):
        parse_domain("twist:3")
    with pytest.raises(DataError, match="is not a number"):
        parse_domain("rotate:abc")
    assert parse_domain("rotate") == ("rotate", DOMAIN_SHIFTS["rotate"].default)
    with pytest.raises(DataError, match="needs 2-D images"):
        apply_shift(torch.randn(2, 1, 40), "rotate:30")
    with pytest.raises(DataError, match="at least 2"):
        make_domain_data("digits", ["identity"])


def test_make_domain_data_deals_disjoint_domains_and_is_reproducible() -> None:
    domains = ("identity", "rotate:90", "invert")
    data = make_domain_data("digits", domains, num_samples=300, seed=1)
    assert isinstance(data, DomainData)
    assert data.domain_names == domains and data.num_classes == 10
    counts = torch.bincount(data.domain)
    assert counts.tolist() == [100, 100, 100]
    again = make_domain_data("digits", domains, num_samples=300, seed=1)
    assert torch.equal(data.x, again.x) and torch.equal(data.y, again.y)
    # Each domain is its own samples under its transformation: undoing the shift of the
    # inverted domain gives inputs that are not any identity-domain input (disjoint parts).
    ident_x, _ = data.select(["identity"])
    inv_x, _ = data.select(["invert"])
    undone = -inv_x
    distances = torch.cdist(undone.flatten(1), ident_x.flatten(1))
    assert distances.min().item() > 1e-3
    # rotate:90 is exactly rot90 of the pooled inputs, so its pixel histogram matches theirs.
    rot_x, rot_y = data.select(["rotate:90"])
    back = torch.rot90(rot_x, k=-1, dims=(2, 3))
    assert back.shape == rot_x.shape and rot_y.shape == (100,)
    splits = list(leave_one_domain_out(data.domain))
    assert [held for held, _, _ in splits] == [0, 1, 2]
    for held, train, test in splits:
        assert np.array_equal(np.sort(np.concatenate([train, test])), np.arange(300))
        assert set(data.domain[test].tolist()) == {held}
