"""The loopback exchanges' send-time log: flat arrays, read back as a dict."""

from __future__ import annotations

from backtrader_channels.loopback import BinanceLoopback, SendTimes


def test_send_times_read_back_as_a_dict_the_latest_send_winning():
    log = SendTimes()
    for key, ns in [(7, 100), (8, 200), (7, 300)]:
        log.add(key, ns)
    assert log.as_dict() == {7: 300, 8: 200}
    assert len(log.keys) == len(log.times) == 3


def test_a_replay_exchange_records_send_times_only_when_asked():
    assert BinanceLoopback().send_times is None
    srv = BinanceLoopback(record_send_times=True)
    assert srv.send_times == {}
    assert srv.book_send_times == {}
    assert srv.quote_send_times == {}
