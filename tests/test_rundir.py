"""Run directories: numbering never reuses a number, even for runs started together."""

from concurrent.futures import ThreadPoolExecutor

from gankit.rundir import create_run_dir, read_jsonl


def test_numbers_are_unique_and_increasing(tmp_path):
    a = create_run_dir(tmp_path, "dcgan")
    b = create_run_dir(tmp_path, "dcgan")
    c = create_run_dir(tmp_path, "weird name/with slash")
    assert [a.path.name, b.path.name, c.path.name] == ["0001-dcgan", "0002-dcgan", "0003-weird-name-with-slash"]
    assert all((r.path / sub).is_dir() for r in (a, b, c) for sub in ("samples", "plots", "checkpoints"))


def test_concurrent_runs_get_distinct_numbers(tmp_path):
    with ThreadPoolExecutor(8) as pool:
        runs = list(pool.map(lambda i: create_run_dir(tmp_path, f"r{i}"), range(16)))
    numbers = sorted(int(r.path.name[:4]) for r in runs)
    assert numbers == list(range(1, 17))


def test_torn_last_line_is_skipped(tmp_path):
    f = tmp_path / "stats.jsonl"
    f.write_text('{"step": 1}\n{"step": 2}\n{"st')
    assert read_jsonl(f) == [{"step": 1}, {"step": 2}]
