/*
 * klipper-pin report: a session's values of one figure, and their median,
 * p99 (nearest rank, so that it is always a value the log holds) and max.
 */
#include <stdlib.h>

#include "report.h"

int report_series_add(struct report_series *series, double value)
{
	if (series->count == series->capacity) {
		size_t capacity = series->capacity ? series->capacity * 2 : 64;
		double *values =
			realloc(series->values, capacity * sizeof(*values));

		if (!values)
			return -1;
		series->values = values;
		series->capacity = capacity;
	}
	series->values[series->count++] = value;
	return 0;
}

static int report_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double report_percentile(const double *sorted, size_t count, double p)
{
	size_t rank;

	if (count == 0)
		return 0;
	/* ceil(p * count / 100), without libm. */
	rank = (size_t)(p * (double)count / 100.0);
	if ((double)rank * 100.0 < p * (double)count)
		rank++;
	if (rank < 1)
		rank = 1;
	if (rank > count)
		rank = count;
	return sorted[rank - 1];
}

struct report_summary report_summarize(double *values, size_t count)
{
	struct report_summary summary = { count, 0, 0, 0 };

	if (count == 0)
		return summary;
	qsort(values, count, sizeof(*values), report_compare);
	summary.median =
		count % 2 ? values[count / 2]
			  : (values[count / 2 - 1] + values[count / 2]) / 2;
	summary.p99 = report_percentile(values, count, 99);
	summary.max = values[count - 1];
	return summary;
}
