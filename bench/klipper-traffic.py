# [bench_traffic]: MCU traffic that needs no GPIO, for bench/klipper.
# Installed by bench/klipper as klippy/extras/bench_traffic.py in its own
# copy of the Klipper tree (never in KLIPPER_SRC). Once klippy is ready a
# reactor timer sends "get_uptime" to [mcu] every `interval` seconds
# (0.005: 200 a second) and counts the "uptime" replies: each one goes
# through the serial thread ("serialq mcu") both ways, is acked (so
# srtt/rttvar have samples), and is read by the serial reader thread, and
# the timer wakes the main thread as often.


class BenchTraffic:
    def __init__(self, config):
        self.printer = config.get_printer()
        self.interval = config.getfloat('interval', 0.005, above=0.)
        self.sent = self.replies = 0
        self.command = None
        self.printer.register_event_handler("klippy:ready", self._ready)

    def _ready(self):
        mcu = self.printer.lookup_object('mcu')
        self.command = mcu.lookup_command("get_uptime")
        mcu._serial.register_response(self._reply, "uptime")
        reactor = self.printer.get_reactor()
        reactor.register_timer(self._send, reactor.NOW)

    def _reply(self, params):
        self.replies += 1

    def _send(self, eventtime):
        self.command.send()
        self.sent += 1
        return eventtime + self.interval

    def get_status(self, eventtime):
        return {'sent': self.sent, 'replies': self.replies}


def load_config(config):
    return BenchTraffic(config)
