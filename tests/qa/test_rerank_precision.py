"""The reranker's precision: bfloat16 where the CPU has it natively, int8 weights elsewhere,
float32 on request; and the int8 model reads pairs as the float32 one does, to within its rounding."""

import numpy as np
import pytest

from qa.rerank import RERANKER_DIR, Reranker, rerank_precision, resolved_precision


def test_auto_is_bfloat16_with_native_support_and_int8_without():
    assert resolved_precision("auto", has_bfloat16=True) == "bf16"
    assert resolved_precision("auto", has_bfloat16=False) == "int8"


@pytest.mark.parametrize("chosen", ["bf16", "int8", "fp32"])
def test_a_chosen_precision_is_kept_whatever_the_cpu(chosen):
    assert resolved_precision(chosen, has_bfloat16=True) == chosen
    assert resolved_precision(chosen, has_bfloat16=False) == chosen


def test_the_environment_chooses_and_a_wrong_value_names_the_variable():
    assert rerank_precision({}) == "auto"
    assert rerank_precision({"PROTOCOL_QA_RERANK_PRECISION": " FP32 "}) == "fp32"
    with pytest.raises(ValueError, match="PROTOCOL_QA_RERANK_PRECISION.*auto, bf16, int8, fp32.*'half'"):
        rerank_precision({"PROTOCOL_QA_RERANK_PRECISION": "half"})
    with pytest.raises(ValueError, match="precision must be one of"):
        resolved_precision("fp16", has_bfloat16=False)


PAIRS = [
    "Officers must not be asked to change their professional advice or the content of a report.",
    "A councillor must register any gift or hospitality worth more than £50 within 28 days.",
    "Officers may attend party group meetings at the invitation of the group, to give information.",
    "The Chair has a second or casting vote when the votes are equal.",
    "Councillors must not use council resources, such as printers, for party political purposes.",
    "Members of the public may speak for up to three minutes at the start of a meeting.",
    "The clerk shall keep the minutes of every meeting of the council.",
]


@pytest.mark.slow
@pytest.mark.skipif(not (RERANKER_DIR / "config.json").is_file(), reason="no trained reranker")
def test_int8_reads_as_float32_does():
    question = "Can the leader make the finance director take a warning out of the budget report?"
    exact = Reranker(precision="fp32").scores(question, PAIRS)
    int8 = Reranker(precision="int8")
    assert int8.precision == "int8"
    approximate = int8.scores(question, PAIRS)
    # The weights' rounding moves a probability a little; the clause that answers stays first.
    assert np.abs(exact - approximate).max() < 0.1
    assert approximate.argmax() == exact.argmax() == 0


@pytest.mark.slow
@pytest.mark.skipif(not (RERANKER_DIR / "config.json").is_file(), reason="no trained reranker")
def test_an_int8_reading_does_not_depend_on_the_pairs_read_beside_it():
    # A comparison of chosen councils reads fewer pairs than one of all; each council's
    # readings, and so its decision, must be the same in both.
    question = "Can the leader make the finance director take a warning out of the budget report?"
    int8 = Reranker(precision="int8")
    together = int8.scores(question, PAIRS, alone=True)
    apart = np.array([int8.scores(question, [text])[0] for text in PAIRS])
    assert np.array_equal(together, apart)
    assert np.array_equal(int8.scores(question, PAIRS[::-1], alone=True)[::-1], together)
