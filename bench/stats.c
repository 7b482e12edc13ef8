/*
 * stats — percentiles over samples. Nearest-rank, on a sorted copy the
 * caller owns: the figures in RESULTS.md are medians and tails of these.
 */
#include <math.h>
#include <stdlib.h>

#include "bench.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

void stats_sort(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
}

double stats_percentile(double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    stats_sort(v, n);
    size_t rank = (size_t)ceil(q * (double)n);
    if (rank == 0)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}
