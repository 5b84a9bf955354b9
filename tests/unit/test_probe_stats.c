/*
 * Unit tests of launcher/probe_stats.c (compiled in here: the unit rule
 * links the config module alone): nearest-rank percentiles on known
 * series, the log2 histogram's bucket edges, the count over a threshold,
 * and the summary of an empty, a single and an unsorted series.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../launcher/probe_stats.c"

static void test_percentile_small(void **state)
{
	static const int64_t series[] = { 1, 2, 3, 4 };

	(void)state;
	assert_int_equal(probe_stats_percentile(series, 4, 5000), 2);
	assert_int_equal(probe_stats_percentile(series, 4, 7500), 3);
	assert_int_equal(probe_stats_percentile(series, 4, 7501), 4);
	assert_int_equal(probe_stats_percentile(series, 4, 9900), 4);
	assert_int_equal(probe_stats_percentile(series, 4, 1), 1);
	assert_int_equal(probe_stats_percentile(series, 4, 10000), 4);
	assert_int_equal(probe_stats_percentile(series, 0, 5000), 0);
}

/* 1..1000: p50 is 500, p99 990, p99.9 999 (nearest rank). */
static void test_percentile_thousand(void **state)
{
	int64_t series[1000];

	(void)state;
	for (int i = 0; i < 1000; i++)
		series[i] = i + 1;
	assert_int_equal(probe_stats_percentile(series, 1000, 5000), 500);
	assert_int_equal(probe_stats_percentile(series, 1000, 9900), 990);
	assert_int_equal(probe_stats_percentile(series, 1000, 9990), 999);
	assert_int_equal(probe_stats_percentile(series, 1000, 10000), 1000);
}

static void test_buckets(void **state)
{
	(void)state;
	assert_int_equal(probe_stats_bucket(-5), 0);
	assert_int_equal(probe_stats_bucket(0), 0);
	assert_int_equal(probe_stats_bucket(999), 0);
	assert_int_equal(probe_stats_bucket(1000), 1);
	assert_int_equal(probe_stats_bucket(1999), 1);
	assert_int_equal(probe_stats_bucket(2000), 2);
	assert_int_equal(probe_stats_bucket(3999), 2);
	assert_int_equal(probe_stats_bucket(4000), 3);
	assert_int_equal(probe_stats_bucket(1023999), 10);
	assert_int_equal(probe_stats_bucket(1024000), 11);
	assert_int_equal(probe_stats_bucket(INT64_MAX), PROBE_BUCKETS - 1);
	/* Each bucket's low edge falls in it, the ns before it in the one
	 * before. */
	for (size_t b = 1; b < PROBE_BUCKETS; b++) {
		assert_int_equal(probe_stats_bucket(probe_stats_bucket_low(b)),
				 b);
		assert_int_equal(
			probe_stats_bucket(probe_stats_bucket_low(b) - 1),
			b - 1);
	}
}

static void test_summary(void **state)
{
	int64_t samples[] = { 5000, 1000, 3000, 1500000, 2000, 1000000, 4000 };
	struct probe_summary summary;
	size_t total = 0;

	(void)state;
	probe_stats_summarize(samples, 7, 1000000, &summary);
	assert_int_equal(summary.count, 7);
	assert_int_equal(summary.min, 1000);
	assert_int_equal(summary.max, 1500000);
	assert_int_equal(summary.p50, 4000);
	assert_int_equal(summary.p99, 1500000);
	/* Strictly above 1 ms: 1.5 ms only, not 1 ms itself. */
	assert_int_equal(summary.over, 1);
	assert_true(summary.mean > 359285.0 && summary.mean < 359286.0);
	assert_int_equal(summary.buckets[1], 1);  /* 1 us */
	assert_int_equal(summary.buckets[2], 2);  /* 2, 3 us */
	assert_int_equal(summary.buckets[3], 2);  /* 4, 5 us */
	assert_int_equal(summary.buckets[10], 1); /* 1000 us */
	assert_int_equal(summary.buckets[11], 1); /* 1500 us */
	for (size_t b = 0; b < PROBE_BUCKETS; b++)
		total += summary.buckets[b];
	assert_int_equal(total, 7);
	/* Sorted in place. */
	assert_int_equal(samples[0], 1000);
	assert_int_equal(samples[6], 1500000);
}

static void test_summary_edges(void **state)
{
	int64_t one[] = { 42 };
	struct probe_summary summary;

	(void)state;
	probe_stats_summarize(NULL, 0, 1000000, &summary);
	assert_int_equal(summary.count, 0);
	assert_int_equal(summary.max, 0);
	probe_stats_summarize(one, 1, 0, &summary);
	assert_int_equal(summary.min, 42);
	assert_int_equal(summary.p50, 42);
	assert_int_equal(summary.p999, 42);
	assert_int_equal(summary.max, 42);
	assert_int_equal(summary.over, 1);
	assert_int_equal(summary.buckets[0], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_percentile_small),
		cmocka_unit_test(test_percentile_thousand),
		cmocka_unit_test(test_buckets),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_summary_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
