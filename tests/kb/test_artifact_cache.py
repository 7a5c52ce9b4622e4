import os

from clinlink.kb.artifact_cache import KEEP_PER_KIND, cached


def test_entries_are_reused_and_the_least_recently_used_pruned(fixture_kb):
    builds = []

    def build(key):
        def make():
            builds.append(key)
            return {"key": key}
        return make

    folder = fixture_kb.path / "test-cache"
    for number in range(KEEP_PER_KIND):
        assert cached(fixture_kb, "test-cache", f"k{number}", build(f"k{number}")) == {"key": f"k{number}"}
        os.utime(folder / f"k{number}.pkl", (1_000 + number, 1_000 + number))  # k0 oldest
    assert cached(fixture_kb, "test-cache", "k0", build("k0")) == {"key": "k0"}  # a load: no build, marks k0 used
    assert builds.count("k0") == 1
    cached(fixture_kb, "test-cache", "new", build("new"))  # one more entry than kept: the least recently used goes
    remaining = sorted(path.stem for path in folder.glob("*.pkl"))
    assert len(remaining) == KEEP_PER_KIND and "k1" not in remaining and {"k0", "new"} <= set(remaining)


def test_a_broken_entry_is_rebuilt(fixture_kb):
    folder = fixture_kb.path / "broken-cache"
    folder.mkdir()
    (folder / "key.pkl").write_bytes(b"not a pickle")
    assert cached(fixture_kb, "broken-cache", "key", lambda: [1, 2]) == [1, 2]
    assert cached(fixture_kb, "broken-cache", "key", lambda: [3]) == [1, 2]
