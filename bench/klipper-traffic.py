# [bench_traffic]: MCU traffic that needs no GPIO, for bench/klipper.
# Installed by bench/klipper as klippy/extras/bench_traffic.py in its own
# copy of the Klipper tree (never in KLIPPER_SRC). Once klippy is ready a
# reactor timer sends "get_uptime" to [mcu] every `interval` seconds
# (0.005: 200 a second) and counts the "uptime" replies: each one goes
# through the serial thread ("serialq mcu") both ways, is acked (so
# srtt/rttvar have samples), and is read by the serial reader thread, and
# the timer wakes the main thread as often.
#
# Two figures at microsecond resolution, where the Stats lines print
# srtt/rttvar in whole milliseconds:
# - rtt_us: each reply's #receive_time - #sent_time, both stamped by the
#   serial thread: the round trip that srtt smooths (serialqueue.c's
#   update_receive_seq), one sample per reply;
# - late_us: how late the reactor ran each send timer (the eventtime it
#   passes less the time asked for): the main thread's own wake-up.


class BenchTraffic:
    def __init__(self, config):
        self.printer = config.get_printer()
        self.interval = config.getfloat('interval', 0.005, above=0.)
        self.sent = self.replies = 0
        self.rtt_us, self.late_us = [], []
        self.command = None
        self.printer.register_event_handler("klippy:ready", self._ready)

    def _ready(self):
        mcu = self.printer.lookup_object('mcu')
        self.command = mcu.lookup_command("get_uptime")
        mcu._serial.register_response(self._reply, "uptime")
        reactor = self.printer.get_reactor()
        reactor.register_timer(self._send, reactor.NOW)

    def _reply(self, params):
        # the serial reader thread: list.append holds the GIL
        self.replies += 1
        if params['#sent_time'] > 0.:
            self.rtt_us.append(
                int((params['#receive_time'] - params['#sent_time']) * 1e6))

    def _send(self, eventtime):
        if self.sent:
            self.late_us.append(int((eventtime - self.due) * 1e6))
        self.command.send()
        self.sent += 1
        self.due = eventtime + self.interval
        return self.due

    def get_status(self, eventtime):
        return {'sent': self.sent, 'replies': self.replies,
                'rtt_us': list(self.rtt_us), 'late_us': list(self.late_us)}


def load_config(config):
    return BenchTraffic(config)
