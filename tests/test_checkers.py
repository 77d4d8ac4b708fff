"""The exercise checkers: pass quietly on a right answer, explain a wrong one."""

import pytest
import torch

from course_lib import CheckFailed, check_equal, check_number, check_tensor

EXPECTED = torch.tensor([[0.5, 0.5], [0.25, 0.75]])


def test_right_answers_pass():
    check_tensor(EXPECTED.clone(), EXPECTED, what="w")
    check_tensor(EXPECTED + 1e-7, EXPECTED, what="w")
    check_number(0.5, 0.5, what="p")
    check_number(torch.tensor(0.5), 0.5, what="p")
    check_equal(True, True, what="b")
    check_equal(torch.tensor(True), True, what="a 0-d bool tensor counts as its value")
    check_equal(torch.float64, torch.float64, what="dtype")


@pytest.mark.parametrize(
    "actual, fragments",
    [
        (None, ["returned None", "return"]),
        ([[0.5, 0.5]], ["returned a list", "torch.Tensor of shape (2, 2)"]),
        (torch.ones(2, 3), ["wrong shape", "expected (2, 2), got (2, 3)"]),
        (torch.ones(2, 2, dtype=torch.long), ["floating-point"]),
        (
            torch.tensor([[0.5, 0.5], [0.75, 0.25]]),
            ["wrong values", "largest difference 0.5 at index (1, 0)"],
        ),
        (torch.tensor([[0.5, 0.5], [float("nan"), 0.75]]), ["wrong values", "at index (1, 0)"]),
    ],
)
def test_wrong_tensors_explain_what_went_wrong(actual, fragments):
    with pytest.raises(CheckFailed) as failure:
        check_tensor(actual, EXPECTED, what="attention_weights(q, k)", hint="divide by sqrt(d)")
    message = str(failure.value)
    assert message.lstrip().startswith("✗ attention_weights(q, k)")
    assert "hint: divide by sqrt(d)" in message
    for fragment in fragments:
        assert fragment in message


def test_the_wrong_entries_are_shown_even_when_they_are_not_at_the_start():
    expected = torch.zeros(2, 4)
    actual = expected.clone()
    actual[1, 3] = -1.0                      # past the first six values a flat preview would show
    with pytest.raises(CheckFailed) as failure:
        check_tensor(actual, expected, what="rope")
    message = str(failure.value)
    assert "1 of 8 entries" in message and "at (1, 3): expected 0, got -1" in message
    with pytest.raises(CheckFailed, match="… and 1 more wrong entries"):
        check_tensor(torch.arange(1.0, 6.0), torch.zeros(5), what="five wrong")


def test_nan_is_never_close_to_a_number():
    with pytest.raises(CheckFailed, match="got nan"):
        check_number(float("nan"), 0.5, what="p")
    with pytest.raises(CheckFailed):
        check_number(float("inf"), 0.5, what="p")


def test_check_failed_is_an_assertion_error_so_nbgrader_scores_zero():
    assert issubclass(CheckFailed, AssertionError)


@pytest.mark.parametrize(
    "call, fragment",
    [
        (lambda: check_number(0.25, 0.5, what="ceiling"), "expected 0.5, got 0.25"),
        (lambda: check_number("0.5", 0.5, what="ceiling"), "expected a number"),
        (lambda: check_number(True, 1.0, what="ceiling"), "expected a number"),
        (lambda: check_equal(False, True, what="equivariant?"), "expected True, got False"),
        (lambda: check_equal(1, True, what="equivariant?"), "expected True or False"),
        (
            lambda: check_equal(torch.tensor(False), True, what="equivariant?"),
            "expected True, got False",
        ),
    ],
)
def test_wrong_values_explain_what_went_wrong(call, fragment):
    with pytest.raises(CheckFailed, match=fragment):
        call()


def test_check_does_not_use_reads_code_not_comments():
    from course_lib import CheckFailed, check_does_not_use

    def by_hand(x):
        # unlike apply_rope, this is written out
        return x * 2

    def shortcut(x):
        from course_lib import apply_rope
        return apply_rope(x)

    def attribute(x):
        import course_lib
        return course_lib.apply_rope(x)

    check_does_not_use(by_hand, ("apply_rope",), what="by_hand")
    for function in (shortcut, attribute):
        with pytest.raises(CheckFailed, match="uses apply_rope"):
            check_does_not_use(function, ("apply_rope",), what=function.__name__)


def test_gradient_of_says_where_a_gradient_flows_and_where_it_is_cut():
    from course_lib import gradient_of

    table = torch.arange(6.0).reshape(3, 2)
    out, grad = gradient_of(lambda x, t: x + t[: x.shape[0]], torch.zeros(2, 2), table, wrt=1)
    assert torch.equal(out, table[:2]) and torch.equal(
        grad, torch.tensor([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    )
    _, grad = gradient_of(
        lambda x, t: x + t[: x.shape[0]].detach(), torch.zeros(2, 2), table, wrt=1
    )
    assert grad is None
    assert not table.requires_grad                     # the caller's tensor is left alone
