"""The reranker reads pairs in batches of like length, and every score goes back to its own text."""

import numpy as np
import pytest

from qa.rerank import MAX_LENGTH, RERANKER_DIR, Reranker, length_batches, padded_width


def padded(lengths, batches, overhead):
    return sum(len(b) * max(lengths[i] for i in b) + overhead for b in batches)


def test_like_lengths_share_a_batch_and_a_long_one_reads_alone():
    lengths = [10, 100, 12, 11, 98]
    batches = length_batches(lengths, overhead=20)
    assert sorted(i for b in batches for i in b) == list(range(5))
    assert [sorted(b) for b in batches] == [[0, 2, 3], [1, 4]]
    # fewer word pieces than one batch of all five
    assert padded(lengths, batches, 20) < padded(lengths, [list(range(5))], 20)


@pytest.mark.parametrize("overhead", [0, 5, 40, 1e9])
def test_the_split_is_the_cheapest_of_all_contiguous_splits(overhead):
    rng = np.random.default_rng(3)
    lengths = rng.integers(5, 192, size=9).tolist()
    best = padded(lengths, length_batches(lengths, overhead), overhead)
    order = sorted(range(9), key=lambda i: lengths[i])
    for mask in range(2 ** 8):  # every way of cutting the sorted list
        cuts = [0] + [i + 1 for i in range(8) if mask >> i & 1] + [9]
        split = [order[a:b] for a, b in zip(cuts, cuts[1:])]
        assert best <= padded(lengths, split, overhead) + 1e-9
    if overhead >= 1e9:
        assert len(length_batches(lengths, overhead)) == 1


def test_no_pairs_no_batches():
    assert length_batches([]) == []


class RowSession:
    """A model whose logit for a pair depends on its own word pieces only (padding ignored)."""

    def __init__(self):
        self.widths = []

    def run(self, _outputs, feed):
        self.widths.append(feed["input_ids"].shape)
        ids, mask = feed["input_ids"], feed["attention_mask"]
        return [((ids * mask).sum(axis=1) % 997 / 997.0 - 0.5).reshape(-1, 1)]


@pytest.mark.skipif(not (RERANKER_DIR / "tokenizer.json").is_file(), reason="no trained reranker's tokenizer")
def test_each_text_gets_its_own_score_whatever_the_batches():
    from tokenizers import Tokenizer

    reranker = object.__new__(Reranker)
    reranker._tokenizer = Tokenizer.from_file(str(RERANKER_DIR / "tokenizer.json"))
    reranker._tokenizer.no_padding()
    reranker._session = RowSession()
    reranker.precision = "fp32"  # float32 reads like lengths together
    reranker.width_step = 1
    texts = ["Officers give impartial advice.", "Gifts " * 80, "A councillor must not bully anyone.",
             "Hospitality over fifty pounds is registered within 28 days " * 6, "Short."]
    reranker.batch_overhead = 1e9  # one batch
    together = reranker.scores("may I accept a gift?", texts)
    reranker.batch_overhead = 0  # a batch for each length
    apart = reranker.scores("may I accept a gift?", texts)
    np.testing.assert_allclose(apart, together)
    assert len(reranker._session.widths) == 1 + len(set(len(e.ids) for e in reranker._tokenizer.encode_batch(
        [("may I accept a gift?", t) for t in texts])))


@pytest.mark.skipif(not (RERANKER_DIR / "tokenizer.json").is_file(), reason="no trained reranker's tokenizer")
def test_bfloat16_batches_are_read_at_widths_rounded_up_and_score_as_at_their_own():
    # OpenVINO prepares each new batch shape on first use: rounding widths up to a step keeps the
    # shapes few, and padding (masked) leaves each pair's score its own.
    from tokenizers import Tokenizer

    reranker = object.__new__(Reranker)
    reranker._tokenizer = Tokenizer.from_file(str(RERANKER_DIR / "tokenizer.json"))
    reranker._tokenizer.no_padding()
    reranker._tokenizer.enable_truncation(MAX_LENGTH, strategy="only_second")
    reranker.batch_overhead = 0
    reranker.precision = "bf16"
    texts = ["Officers give impartial advice.", "A councillor must not bully anyone.", "Gifts " * 300]
    scores = {}
    for step in (1, 16):
        reranker._session, reranker.width_step = RowSession(), step
        scores[step] = reranker.scores("may I accept a gift?", texts)
        widths = [shape[1] for shape in reranker._session.widths]
        assert all(w % step == 0 or w == MAX_LENGTH for w in widths) and max(widths) == MAX_LENGTH
    np.testing.assert_allclose(scores[16], scores[1])


def test_a_width_is_rounded_up_to_its_step_and_never_past_the_longest_pair_read():
    assert [padded_width(n, 16) for n in (1, 16, 17, 100, 176, 177, 192)] == [16, 16, 32, 112, 176, 192, 192]
    assert padded_width(250, 16) == 250  # longer than MAX_LENGTH only when the pair itself is
    assert [padded_width(n, 1) for n in (1, 17, 192)] == [1, 17, 192]


def test_int8_reads_each_pair_on_its_own_when_asked_to():
    # int8 scales a call's activations over the whole batch: a pair read beside others would
    # score otherwise than read alone (a comparison reads its councils' clauses alone).
    reranker = object.__new__(Reranker)
    reranker.batch_overhead = 1e9
    reranker.precision = "int8"
    assert reranker.batches([5, 9, 9, 12], alone=True) == [[0], [1], [2], [3]]
    assert reranker.batches([5, 9, 9, 12]) == [[0, 1, 2, 3]]  # an ask reads like lengths together
    reranker.precision = "fp32"
    assert reranker.batches([5, 9, 9, 12], alone=True) == [[0, 1, 2, 3]]
    reranker.precision = "bf16"
    assert reranker.batches([]) == []
