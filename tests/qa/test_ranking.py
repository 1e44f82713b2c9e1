import pytest

from qa.ranking import convex_fusion, diversify, max_normalise, rank_positions, reciprocal_rank_fusion


def test_rrf_matches_hand_computation():
    fused = reciprocal_rank_fusion([[7, 3], [3, 9]], k=60)
    assert fused[3] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[7] == pytest.approx(1 / 61)
    assert fused[9] == pytest.approx(1 / 62)
    assert rank_positions(fused) == [3, 7, 9]


@pytest.mark.parametrize("rankings", [[], [[], []]])
def test_rrf_of_nothing_is_empty(rankings):
    assert reciprocal_rank_fusion(rankings) == {}


def test_rrf_rejects_bad_constant():
    with pytest.raises(ValueError, match="k must be positive"):
        reciprocal_rank_fusion([[1]], k=0)


def test_max_normalise_keeps_zero_at_zero():
    assert max_normalise({1: 4.0, 2: 2.0, 3: 0.0}) == {1: 1.0, 2: 0.5, 3: 0.0}
    assert max_normalise({1: 0.0}) == {1: 0.0}
    assert max_normalise({}) == {}


def test_convex_fusion_weights_and_missing_scores():
    fused = convex_fusion({1: 10.0, 2: 5.0}, {2: 0.8, 3: 0.6}, dense_weight=0.5)
    assert fused[1] == pytest.approx(0.5)
    assert fused[2] == pytest.approx(0.5 * 0.5 + 0.5 * 0.8)
    assert fused[3] == pytest.approx(0.3)


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_convex_fusion_rejects_bad_weight(weight):
    with pytest.raises(ValueError, match="dense_weight"):
        convex_fusion({}, {}, dense_weight=weight)


def test_rank_positions_breaks_ties_by_position():
    assert rank_positions({5: 1.0, 2: 1.0, 9: 2.0}) == [9, 2, 5]


def test_shared_clause_tells_copies_from_neighbours():
    from qa.ranking import shared_clause
    a = set("members must not instruct officers other than through the formal process".split())
    b = a | {"council"}
    c = set("officers may leave a party group meeting at any time".split())
    assert shared_clause(a, b)
    assert not shared_clause(a, c)
    assert not shared_clause(a, set())
    assert not shared_clause({"members"}, a)  # a fragment is not a copy


def test_lend_to_copies_raises_only_copies():
    from qa.ranking import lend_to_copies
    words = {1: {"a", "b", "c", "d"}, 2: {"a", "b", "c", "d", "e"}, 3: {"x", "y", "z", "w"}}
    lent = lend_to_copies({2: 0.4, 3: 0.3}, words.__getitem__, {1: 0.7})
    assert lent == {2: 0.7, 3: 0.3}


def test_blend_adds_scaled_rrf():
    from qa.ranking import blend
    fused = blend({1: 0.5, 2: 0.4}, reciprocal_rank_fusion([[2, 1], [2, 1]]), rrf_weight=0.4)
    assert fused[2] == pytest.approx(0.4 + 0.4)  # first in both rankings adds exactly rrf_weight
    assert fused[1] == pytest.approx(0.5 + 0.4 * (61 / 2) * (2 / 62))
    with pytest.raises(ValueError, match="rrf_weight"):
        blend({}, {}, rrf_weight=-1)


def test_diversify_defers_repeats_of_a_group_and_drops_nothing():
    group = {1: "a", 2: "a", 3: "b", 4: "a", 5: "c"}.__getitem__
    assert diversify([1, 2, 3, 4, 5], group) == [1, 3, 5, 2, 4]
    assert diversify([1, 2, 3, 4, 5], group, per_group=2) == [1, 2, 3, 5, 4]
    with pytest.raises(ValueError, match="per_group"):
        diversify([1], group, per_group=0)


def test_diversify_with_a_limit_keeps_the_head_and_looks_no_further():
    looked = []
    groups = {1: "a", 2: "a", 3: "b", 4: "a", 5: "c", 6: "d"}

    def group(position):
        looked.append(position)
        return groups[position]

    full = diversify(list(groups), groups.__getitem__)
    limited = diversify(list(groups), group, limit=2)
    assert limited[:2] == full[:2] == [1, 3]
    assert sorted(limited) == sorted(groups)  # nothing dropped
    assert looked == [1, 2, 3]  # group_of is not asked beyond the second pick
