/*
 * Unit tests of launcher/report_parse.c and launcher/report_stats.c
 * (compiled in here: the unit rule links the config module alone): the
 * Stats lines of current Klipper and of an older one split into named
 * figures, klipper_pin's part, lines klippy writes classified, and the
 * median, nearest-rank p99 and max.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../launcher/report_parse.c"
#include "../../launcher/report_stats.c"

/* From tests/fixtures/klippy-logs/two-sessions.log (Klipper 84104bbb). */
static const char current[] =
	"Stats 16048.2: gcodein=0 mcu: mcu_awake=0.004 mcu_task_avg=0.000026 "
	"mcu_task_stddev=0.000028 bytes_write=1032 bytes_read=5703 "
	"bytes_retransmit=9 bytes_invalid=0 send_seq=135 receive_seq=135 "
	"retransmit_seq=2 srtt=0.000 rttvar=0.000 rto=0.025 ready_bytes=0 "
	"upcoming_bytes=0 freq=49994801 print_time=96.726 buffer_time=5.331 "
	"print_stall=0 sysload=0.43 cputime=0.302 memavail=24206288";

/* From tests/fixtures/klippy-logs/old-klipper.log (v0.10's shape). */
static const char older[] =
	"Stats 60.1: gcodein=0  mcu: mcu_awake=0.005 mcu_task_avg=0.000021 "
	"mcu_task_stddev=0.000017 bytes_write=1034 bytes_read=5212 "
	"bytes_retransmit=9 bytes_invalid=0 send_seq=140 receive_seq=140 "
	"retransmit_seq=2 srtt=0.001 rttvar=0.000 rto=0.025 ready_bytes=0 "
	"stalled_bytes=0 freq=16000320  heater_bed: target=0 temp=21.9 "
	"pwm=0.000 print_time=2.012 buffer_time=0.000 print_stall=0 extruder: "
	"target=0 temp=22.4 pwm=0.000 sysload=0.31 cputime=2.114 "
	"memavail=771236";

/* cmocka 1.1 has no assert_double_equal. */
static void near(double got, double wanted, double within, const char *what)
{
	double off = got > wanted ? got - wanted : wanted - got;

	if (off > within)
		fail_msg("%s: got %.9g, wanted %.9g", what, got, wanted);
}

#define assert_near(got, wanted, within) near(got, wanted, within, #got)

static const struct report_field *find(const struct report_field *fields,
				       int count, const char *name)
{
	for (int i = 0; i < count; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

static double value(const struct report_field *fields, int count,
		    const char *name)
{
	const struct report_field *field = find(fields, count, name);

	if (!field)
		fail_msg("no figure %s", name);
	return field->value;
}

static void test_current_klipper(void **state)
{
	struct report_field fields[64];
	bool inactive = true;
	int count = report_parse_stats(current, fields, 64, &inactive);

	(void)state;
	/* gcodein, 16 of the MCU's, 3 of the toolhead's, 3 of the system's */
	assert_int_equal(count, 23);
	assert_false(inactive);
	assert_near(value(fields, count, "gcodein"), 0, 0);
	assert_near(value(fields, count, "mcu.mcu_task_avg"), 0.000026, 1e-12);
	assert_near(value(fields, count, "mcu.bytes_retransmit"), 9, 0);
	assert_near(value(fields, count, "mcu.rto"), 0.025, 1e-12);
	assert_near(value(fields, count, "mcu.freq"), 49994801, 0);
	/* After "mcu:", but the toolhead's and the system's. */
	assert_near(value(fields, count, "buffer_time"), 5.331, 1e-12);
	assert_near(value(fields, count, "print_stall"), 0, 0);
	assert_near(value(fields, count, "memavail"), 24206288, 0);
	assert_null(find(fields, count, "mcu.buffer_time"));
}

static void test_older_klipper(void **state)
{
	struct report_field fields[64];
	bool inactive;
	int count = report_parse_stats(older, fields, 64, &inactive);

	(void)state;
	/* An unknown field is kept; a heater's fields are its own. */
	assert_near(value(fields, count, "mcu.stalled_bytes"), 0, 0);
	assert_null(find(fields, count, "mcu.upcoming_bytes"));
	assert_near(value(fields, count, "heater_bed.temp"), 21.9, 1e-12);
	assert_near(value(fields, count, "extruder.temp"), 22.4, 1e-12);
	assert_near(value(fields, count, "sysload"), 0.31, 1e-12);
	assert_near(value(fields, count, "print_time"), 2.012, 1e-12);
	assert_near(value(fields, count, "mcu.srtt"), 0.001, 1e-12);
}

static void test_missing_and_odd_fields(void **state)
{
	struct report_field fields[8];
	bool inactive;
	int count;

	(void)state;
	count = report_parse_stats("Stats 5.0: sysload=0.10", fields, 8,
				   &inactive);
	assert_int_equal(count, 1);
	assert_string_equal(fields[0].name, "sysload");
	/* Not a number, an empty value, no key: skipped. */
	count = report_parse_stats(
		"Stats 5.0: mcu: srtt=abc rto= =3 rttvar=0.5x bytes_invalid=2",
		fields, 8, &inactive);
	assert_int_equal(count, 1);
	assert_string_equal(fields[0].name, "mcu.bytes_invalid");
	/* More fields than room: counted, max written. */
	count = report_parse_stats("Stats 1.0: a=1 b=2 c=3", fields, 2,
				   &inactive);
	assert_int_equal(count, 3);
	assert_string_equal(fields[1].name, "b");
	assert_int_equal(
		report_parse_stats("Stat 1.0: a=1", fields, 8, &inactive), -1);
	assert_int_equal(report_parse_stats("Stats", fields, 8, &inactive), -1);
}

static void test_klipper_pin_part(void **state)
{
	struct report_field fields[8];
	bool inactive;
	int count = report_parse_stats(
		"Stats 9.0: sysload=0.5 klipper_pin: threads=4 off_plan=0 "
		"migrations=2 max_wait_ms=0.234",
		fields, 8, &inactive);

	(void)state;
	assert_int_equal(count, 5);
	assert_false(inactive);
	assert_near(value(fields, count, "klipper_pin.threads"), 4, 0);
	assert_near(value(fields, count, "klipper_pin.migrations"), 2, 0);
	assert_near(value(fields, count, "klipper_pin.max_wait_ms"), 0.234,
		    1e-12);
	count = report_parse_stats("Stats 9.0: sysload=0.5 klipper_pin: "
				   "inactive",
				   fields, 8, &inactive);
	assert_int_equal(count, 1);
	assert_true(inactive);
}

static void test_classify(void **state)
{
	(void)state;
	assert_int_equal(report_classify("Starting Klippy..."),
			 REPORT_STARTING);
	assert_int_equal(report_classify("Start printer at Wed Dec  2 "
					 "00:29:59 2026 (1796171399.7 "
					 "16043.5)"),
			 REPORT_START);
	assert_int_equal(report_classify("=============== Log rollover at "
					 "Wed Dec  2 00:19:14 2026 "
					 "==============="),
			 REPORT_ROLLOVER);
	assert_int_equal(report_classify(current), REPORT_STATS);
	assert_int_equal(report_classify("MCU 'mcu' shutdown: "),
			 REPORT_MCU_SHUTDOWN);
	assert_int_equal(report_classify("MCU 'toolboard' shutdown: Timer "
					 "too close"),
			 REPORT_TIMER_TOO_CLOSE);
	assert_int_equal(report_classify("Transition to shutdown state: MCU "
					 "'mcu' shutdown: Timer too close"),
			 REPORT_SHUTDOWN);
	assert_int_equal(report_classify("Receive: 99 16069.836309 "
					 "16069.836191 12: seq: 1d, shutdown "
					 "clock=1355208005"),
			 REPORT_OTHER);
	assert_int_equal(report_classify("Configured MCU 'mcu' (1024 moves)"),
			 REPORT_OTHER);
}

static void test_percentiles(void **state)
{
	double sorted[100];

	(void)state;
	for (int i = 0; i < 100; i++)
		sorted[i] = i + 1;
	/* Nearest rank: ceil(p * n / 100). */
	assert_near(report_percentile(sorted, 100, 99), 99, 0);
	assert_near(report_percentile(sorted, 100, 50), 50, 0);
	assert_near(report_percentile(sorted, 100, 100), 100, 0);
	assert_near(report_percentile(sorted, 10, 99), 10, 0);
	assert_near(report_percentile(sorted, 1, 99), 1, 0);
	assert_near(report_percentile(sorted, 0, 99), 0, 0);
	/* 99 * 200 / 100 = 198 exactly: no rounding up past it. */
	double many[200];

	for (int i = 0; i < 200; i++)
		many[i] = i + 1;
	assert_near(report_percentile(many, 200, 99), 198, 0);
}

static void test_summaries(void **state)
{
	double odd[] = { 5, 1, 3 }, even[] = { 4, 1, 3, 2 }, one[] = { 7 };
	struct report_summary s;

	(void)state;
	s = report_summarize(odd, 3);
	assert_int_equal(s.count, 3);
	assert_near(s.median, 3, 0);
	assert_near(s.p99, 5, 0);
	assert_near(s.max, 5, 0);
	s = report_summarize(even, 4);
	assert_near(s.median, 2.5, 0);
	assert_near(s.max, 4, 0);
	s = report_summarize(one, 1);
	assert_near(s.median, 7, 0);
	assert_near(s.p99, 7, 0);
	s = report_summarize(NULL, 0);
	assert_int_equal(s.count, 0);
	assert_near(s.max, 0, 0);
}

static void test_series_grows(void **state)
{
	struct report_series series = { "x", NULL, 0, 0 };

	(void)state;
	for (int i = 0; i < 1000; i++)
		assert_int_equal(report_series_add(&series, 1000 - i), 0);
	assert_int_equal(series.count, 1000);
	struct report_summary s = report_summarize(series.values, 1000);

	assert_near(s.median, 500.5, 0);
	assert_near(s.p99, 990, 0);
	assert_near(s.max, 1000, 0);
	free(series.values);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current_klipper),
		cmocka_unit_test(test_older_klipper),
		cmocka_unit_test(test_missing_and_odd_fields),
		cmocka_unit_test(test_klipper_pin_part),
		cmocka_unit_test(test_classify),
		cmocka_unit_test(test_percentiles),
		cmocka_unit_test(test_summaries),
		cmocka_unit_test(test_series_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
