/*
 * klipper-pin probe's statistics: a sort, nearest-rank percentiles and a
 * log2 histogram, as probe_stats.h says.
 */
#include <stdlib.h>
#include <string.h>

#include "probe_stats.h"

int64_t probe_stats_percentile(const int64_t *sorted, size_t count,
			       unsigned per10000)
{
	/* ceil(per10000 * count / 10000) in integers: no rounding of the
	 * rank for counts a double holds inexactly. */
	unsigned long long rank =
		((unsigned long long)per10000 * count + 9999) / 10000;

	if (count == 0)
		return 0;
	if (rank < 1)
		rank = 1;
	if (rank > count)
		rank = count;
	return sorted[rank - 1];
}

size_t probe_stats_bucket(int64_t ns)
{
	int64_t us = ns / 1000;
	size_t bucket = 0;

	if (ns < 1000)
		return 0;
	while (us > 0 && bucket < PROBE_BUCKETS - 1) {
		us >>= 1;
		bucket++;
	}
	return bucket;
}

int64_t probe_stats_bucket_low(size_t bucket)
{
	if (bucket == 0)
		return 0;
	return (int64_t)1000 << (bucket - 1);
}

static int probe_stats_compare(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

void probe_stats_summarize(int64_t *samples, size_t count, int64_t threshold,
			   struct probe_summary *summary)
{
	double sum = 0;

	memset(summary, 0, sizeof(*summary));
	if (count == 0)
		return;
	qsort(samples, count, sizeof(samples[0]), probe_stats_compare);
	summary->count = count;
	summary->min = samples[0];
	summary->max = samples[count - 1];
	for (size_t i = 0; i < count; i++) {
		sum += (double)samples[i];
		if (samples[i] > threshold)
			summary->over++;
		summary->buckets[probe_stats_bucket(samples[i])]++;
	}
	summary->mean = sum / (double)count;
	summary->p50 = probe_stats_percentile(samples, count, 5000);
	summary->p99 = probe_stats_percentile(samples, count, 9900);
	summary->p999 = probe_stats_percentile(samples, count, 9990);
}
