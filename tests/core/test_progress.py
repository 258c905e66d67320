import time

from cnn_core.progress import Progress


def test_counts_rate_and_eta_and_a_report_at_the_end():
    heard = []
    p = Progress(100, "images read", heard.append, every=60)
    assert p.seconds_left is None and p.fraction == 0
    p.started -= 2.0  # two seconds in
    p.advance(50)
    assert heard == [p] and 1.5 < p.seconds_left < 2.5 and p.text == "50 of 100 images read · about 2 s left"
    p.advance(25)
    assert len(heard) == 1  # throttled: no report within `every` seconds
    p.advance(25)
    assert len(heard) == 2 and p.finished and p.fraction == 1 and p.text.startswith("100 of 100 images read in ")


def test_long_waits_are_given_in_minutes():
    p = Progress(1000)
    p.started = time.monotonic() - 60
    p.advance(100)
    assert p.text.endswith("about 9 min left")
