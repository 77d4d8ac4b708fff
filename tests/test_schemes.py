"""Position schemes available so far: none, the integer index, a learned table."""

import pytest
import torch

from course_lib import IntegerPosition, LearnedPositions, NoPositions, PositionScheme


def test_no_positions_changes_nothing():
    x, q, k = torch.randn(2, 3, 4), torch.randn(2, 1, 3, 4), torch.randn(2, 1, 3, 4)
    scheme = NoPositions()
    positions = torch.arange(3)
    assert scheme.embed(x, positions) is x
    assert scheme.rotate(q, k, positions) == (q, k)
    assert scheme.attention_bias(3) is None and scheme.extra_dims == 0


def test_integer_position_concat_appends_the_index():
    x = torch.zeros(2, 4, 3)
    out = IntegerPosition("concat").embed(x, torch.arange(4))
    assert out.shape == (2, 4, 4)
    assert out[0, :, -1].tolist() == [0, 1, 2, 3] and torch.all(out[..., :3] == 0)


def test_integer_position_add_shifts_every_feature():
    x = torch.zeros(1, 3, 5)
    out = IntegerPosition("add").embed(x, torch.arange(3))
    assert torch.equal(out[0], torch.arange(3.0)[:, None].expand(3, 5))
    assert IntegerPosition("add").extra_dims == 0 and IntegerPosition("concat").extra_dims == 1


def test_learned_positions_add_one_row_per_position():
    scheme = LearnedPositions(max_len=6, d_model=4)
    x = torch.zeros(2, 5, 4)
    out = scheme.embed(x, torch.arange(5))
    assert torch.equal(out[1], scheme.table.weight[:5].detach())
    assert sum(p.numel() for p in scheme.parameters()) == 6 * 4


def test_learned_positions_refuse_positions_past_the_table():
    scheme = LearnedPositions(max_len=4, d_model=2)
    with pytest.raises(ValueError, match=r"positions 0\.\.3 \(max_len=4\).*needs position 5"):
        scheme.embed(torch.zeros(1, 6, 2), torch.arange(6))


def test_every_scheme_is_a_position_scheme():
    for scheme in [NoPositions(), IntegerPosition(), LearnedPositions(3, 2)]:
        assert isinstance(scheme, PositionScheme)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: IntegerPosition("multiply"), "mode must be one of 'concat', 'add'"),
        (lambda: LearnedPositions(0, 4), "max_len must be at least 1"),
        (lambda: LearnedPositions(4.5, 4), "max_len must be a whole number"),
        (lambda: LearnedPositions(4, True), "d_model must be a whole number"),
    ],
)
def test_bad_input_raises_a_clear_value_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()
