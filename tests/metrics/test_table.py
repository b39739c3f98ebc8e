"""format_table: one aligned row per metric with the model's value next to the floor."""

from __future__ import annotations

from gankit.metrics import format_table


def test_table_rows_and_alignment():
    m = {"evaluator": "fashion-mnist (abc)", "n": 100, "fid": 12.3456, "floor_fid": 1.5, "kid_mean": 0.00012,
         "floor_kid_mean": -3e-5, "classes_covered": 7, "classes_present": 10, "floor_classes_covered": 10,
         "floor_classes_present": 10, "class_hist": [1, 2], "notes": ["hello"], "floor_kind": "train vs test"}
    lines = format_table(m).splitlines()
    fid_row = next(line for line in lines if line.startswith("FID"))
    assert fid_row.split() == ["FID", "12.35", "1.5000", "low"]
    assert next(line for line in lines if line.startswith("KID")).split()[2:4] == ["1.200e-04", "-3.000e-05"]
    assert "7/10" in next(line for line in lines if line.startswith("classes covered"))
    header = next(line for line in lines if line.startswith("metric"))
    # right-aligned columns: every row of the table has the same width as the header
    rows = lines[lines.index(header): lines.index(header) + 5]
    assert len({len(r) for r in rows[2:]}) == 1
    assert "note: hello" in lines and "class histogram of samples: [1, 2]" in lines


def test_table_says_what_the_numbers_were_measured_with():
    m = {"evaluator": "mnist (abc)", "evaluator_sha256": "ab" * 32, "n": 500, "reference": "mnist/test",
         "reference_split": "test", "reference_size": 10000, "reference_n": 500, "small_n_warning": True,
         "fid": 3.0, "floor_fid": 1.0}
    lines = format_table(m).splitlines()
    assert "samples: n=500 · reference: test split (mnist/test), 10000 images (500 in the FID/KID subset)" in lines
    assert "evaluator sha256: " + "ab" * 32 in lines
    assert [line for line in lines if line.startswith("small n:")] == [
        "small n: FID/KID from n=500 samples (fewer than 2048) are biased and not comparable with figures "
        "at a larger n; use n >= 2048 for numbers to compare"]
    m.update(n=2048, reference_n=2048, small_n_warning=False)
    assert not any(line.startswith("small n:") for line in format_table(m).splitlines())
