import numpy as np
import pytest

from qa.ranking import (blend_scores, convex_scores, diversify, group_ranks, max_normalise, rank_positions, ranks,
                        reciprocal_rank_fusion, rrf_scores, top_positions)


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
    assert max_normalise(np.array([4.0, 2.0, 0.0])).tolist() == [1.0, 0.5, 0.0]
    assert max_normalise(np.array([0.0])).tolist() == [0.0]
    assert max_normalise(np.array([])).tolist() == []


def test_convex_scores_weights_and_missing_scores():
    # Candidates 1, 2, 3: BM25 10, 5, 0 (3 not found lexically); cosine 0, 0.8, 0.6.
    fused = convex_scores(np.array([10.0, 5.0, 0.0]), np.array([0.0, 0.8, 0.6]), dense_weight=0.5)
    assert fused.tolist() == pytest.approx([0.5, 0.5 * 0.5 + 0.5 * 0.8, 0.3])


def test_convex_scores_theoretical_scale_caps_at_one_and_ignores_negative_cosines():
    fused = convex_scores(np.array([4.0, 12.0]), np.array([-0.2, 0.5]), dense_weight=0.4, lexical_scale=8.0)
    assert fused.tolist() == pytest.approx([0.6 * 0.5, 0.6 * 1.0 + 0.4 * 0.5])


@pytest.mark.parametrize("weight", [-0.1, 1.5])
def test_convex_scores_rejects_bad_weight(weight):
    with pytest.raises(ValueError, match="dense_weight"):
        convex_scores(np.array([]), np.array([]), dense_weight=weight)


def test_ranks_break_ties_by_row():
    assert ranks(np.array([1.0, 1.0, 2.0]), np.array([5, 2, 9])).tolist() == [3.0, 2.0, 1.0]


def test_rrf_scores_equal_the_reference_over_ranked_lists():
    rng = np.random.default_rng(3)
    for _ in range(50):
        rows = rng.choice(1000, size=40, replace=False)
        lexical = np.where(rng.random(40) < 0.3, 0.0, rng.integers(0, 5, 40).astype(float))  # ties and zeros
        dense = rng.integers(0, 8, 40) / 8.0
        lexical_d = dict(zip(rows.tolist(), lexical.tolist()))
        dense_d = dict(zip(rows.tolist(), dense.tolist()))
        reference = reciprocal_rank_fusion([[p for p in rank_positions(lexical_d) if lexical_d[p] > 0],
                                            rank_positions(dense_d)])
        assert rrf_scores(lexical, dense, rows).tolist() == pytest.approx([reference[p] for p in rows.tolist()])


def test_top_positions_is_the_head_of_rank_positions():
    scores = {5: 1.0, 2: 1.0, 9: 2.0, 4: 0.5, 7: 1.0}
    for n in range(7):
        assert top_positions(scores, n) == rank_positions(scores)[:n]


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
    rrf = reciprocal_rank_fusion([[2, 1], [2, 1]])
    fused = dict(zip([1, 2], blend_scores(np.array([0.5, 0.4]), np.array([rrf[1], rrf[2]]), rrf_weight=0.4)))
    assert fused[2] == pytest.approx(0.4 + 0.4)  # first in both rankings adds exactly rrf_weight
    assert fused[1] == pytest.approx(0.5 + 0.4 * (61 / 2) * (2 / 62))
    with pytest.raises(ValueError, match="rrf_weight"):
        blend_scores(np.array([]), np.array([]), rrf_weight=-1)


def test_diversify_defers_repeats_of_a_group_and_drops_nothing():
    group = {1: "a", 2: "a", 3: "b", 4: "a", 5: "c"}.__getitem__
    assert diversify([1, 2, 3, 4, 5], group) == [1, 3, 5, 2, 4]
    assert diversify([1, 2, 3, 4, 5], group, per_group=2) == [1, 2, 3, 5, 4]
    with pytest.raises(ValueError, match="per_group"):
        diversify([1], group, per_group=0)


def test_group_ranks_gives_a_deferred_list_item_its_lists_rank():
    group = {1: "a", 2: "a", 3: "b", 4: "a", 5: "c"}.__getitem__
    shown = diversify([1, 2, 3, 4, 5], group)  # [1, 3, 5, 2, 4]: the list's items 2 and 4 last
    assert group_ranks(shown, group, limit=10) == {1: 1, 3: 2, 5: 3, 2: 1, 4: 1}
    assert group_ranks(shown, group, limit=2) == {1: 1, 3: 2, 2: 1, 4: 1}  # "c" is third: beyond the limit


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


def test_fold_copies_keeps_the_first_of_identical_copies_and_moves_the_rest_up():
    from qa.ranking import fold_copies

    ranked = [(10, 0.9), (11, 0.8), (12, 0.7), (13, 0.6), (14, 0.5)]
    keys = {10: "P-a", 11: "P-a", 12: None, 13: "P-a", 14: "P-b"}
    assert fold_copies(ranked, keys.get) == [(10, 0.9), (12, 0.7), (14, 0.5)]
    assert fold_copies(ranked, lambda position: None) == ranked


def test_the_reranked_head_counts_copies_of_one_clause_once():
    from qa.ranking import distinct_head

    groups = {1: "P-a", 2: "P-a", 3: None, 4: "P-b", 5: "P-a", 6: None, 7: None}
    # 1 and 2 are copies of one provision: the head reaches three different clauses at 4.
    assert distinct_head([1, 2, 3, 4, 5, 6, 7], 3, groups.get, limit=10) == [1, 2, 3, 4, 5]
    # never more than `limit` candidates, however many copies
    assert distinct_head([1, 2, 5, 3, 4], 3, groups.get, limit=2) == [1, 2]
    # without groups it is the first `depth`
    assert distinct_head([7, 6, 3, 1], 2, lambda p: None, limit=10) == [7, 6]


def test_each_provision_in_the_head_is_read_by_its_first_wording():
    from qa.ranking import readers

    groups = {1: "P-a", 2: "P-a", 3: None, 4: "P-b", 5: "P-a", 6: "P-b", 7: None}
    assert readers([1, 2, 3, 4, 5, 6, 7], groups.get) == {1: 1, 2: 1, 3: 3, 4: 4, 5: 1, 6: 4, 7: 7}
    # clauses of their own are each read; the order of the head decides who reads
    assert readers([6, 4, 3], groups.get) == {6: 6, 4: 6, 3: 3}
    assert readers([], groups.get) == {}
    # a wording read already (for the whole question, say) reads for its group
    assert readers([1, 2, 3, 5], groups.get, read={2}) == {1: 2, 2: 2, 3: 3, 5: 2}
    assert readers([1, 2, 3], groups.get, read={1, 2}) == {1: 1, 2: 2, 3: 3}
