"""An unknown name is one readable line, whatever the number of registered names."""
from benchbed.contracts.errors import UnknownNameError


def test_unknown_name_lists_a_few_names_and_counts_the_rest():
    known = [f"zoo/model-{i:03d}" for i in range(200)]
    text = str(UnknownNameError("model", "outsider-nan", known))
    assert text.count("zoo/model-") == 12 and "and 188 more" in text and "benchbed models" in text
    assert "known models: a, b (list them" in str(UnknownNameError("model", "qqq", ["b", "a"]))  # all, when few
