/*
 * The statistics of klipper-pin probe, apart from any clock or thread so
 * that they can be tested on known series: percentiles, the count over a
 * threshold, and log-scaled histogram buckets of wake-up latencies.
 */
#ifndef KLIPPER_PIN_PROBE_STATS_H
#define KLIPPER_PIN_PROBE_STATS_H

#include <stddef.h>
#include <stdint.h>

/*
 * Histogram buckets by latency in microseconds: bucket 0 holds [0, 1 us),
 * bucket i (1 <= i < PROBE_BUCKETS - 1) holds [2^(i-1) us, 2^i us), and
 * the last bucket everything from 2^(PROBE_BUCKETS-2) us up (about 0.5 s).
 */
#define PROBE_BUCKETS 21

struct probe_summary {
	size_t count;
	int64_t min, max;	/* ns */
	double mean;		/* ns */
	int64_t p50, p99, p999; /* ns, nearest rank */
	size_t over;		/* samples above the threshold */
	size_t buckets[PROBE_BUCKETS];
};

/*
 * The nearest-rank percentile of sorted (ascending, count > 0): the value
 * at rank ceil(per10000 / 10000 * count), 1-based, for per10000 in
 * 1..10000 (5000 is the median, 9990 p99.9). So p50 of 1,2,3,4 is 2.
 */
int64_t probe_stats_percentile(const int64_t *sorted, size_t count,
			       unsigned per10000);

/* The bucket of a latency in ns (a negative one counts as 0). */
size_t probe_stats_bucket(int64_t ns);

/* The lower bound of a bucket in ns (0 for bucket 0); the upper bound of
 * bucket i is the lower bound of i + 1, the last has none. */
int64_t probe_stats_bucket_low(size_t bucket);

/*
 * Sorts samples (count of them, in ns) in place and fills *summary: min,
 * mean, percentiles and max, the samples strictly above threshold ns, and
 * the histogram. count 0 gives a summary of zeros.
 */
void probe_stats_summarize(int64_t *samples, size_t count, int64_t threshold,
			   struct probe_summary *summary);

#endif
