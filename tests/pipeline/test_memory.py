import gc

from clinlink.memory import collector_paused


def test_collector_is_paused_inside_and_restored_after():
    gc.enable()
    with collector_paused():
        assert not gc.isenabled()
        kept = [{"name": str(i)} for i in range(1000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() >= len(kept)


def test_collector_stays_off_when_it_was_off():
    gc.disable()
    try:
        with collector_paused(freeze=False):
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
