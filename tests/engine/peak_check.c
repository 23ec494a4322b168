/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * peak_check.c: asiojack_peak against the plain loop it replaces, on
 * random buffers of every length up to 300 at every alignment, with NaNs,
 * infinities and negative zeros mixed in.  Prints the number of
 * disagreements and the first few; exits 1 if there is any.
 */
#include <math.h>
#include <stdio.h>
#include <stdint.h>

#include "peak.h"

static float plain_peak(const float *b, uint32_t n)
{
    float p = 0.0f;
    for (uint32_t i = 0; i < n; i++) {
        float a = fabsf(b[i]);
        if (a > p) /* a NaN never compares greater */
            p = a;
    }
    return p;
}

int main(void)
{
    static float buf[304];
    uint32_t seed = 12345;
    unsigned long bad = 0, runs = 0;
    for (int round = 0; round < 40; round++) {
        for (uint32_t n = 0; n <= 300; n++) {
            for (uint32_t off = 0; off < 4; off++) {
                for (uint32_t i = 0; i < n; i++) {
                    seed = seed * 1103515245u + 12345u;
                    float v = (float)((int32_t)(seed >> 8) % 40001 - 20000) / 10000.0f;
                    if (seed % 101 == 0)
                        v = NAN;
                    else if (seed % 103 == 0)
                        v = -INFINITY;
                    else if (seed % 107 == 0)
                        v = -0.0f;
                    buf[off + i] = v;
                }
                float want = plain_peak(buf + off, n), got = asiojack_peak(buf + off, n);
                runs++;
                if (want != got && bad++ < 5)
                    printf("n=%u off=%u: plain %g, asiojack_peak %g\n", n, off, want, got);
            }
        }
    }
    printf("%lu runs, %lu disagreements\n", runs, bad);
    return bad != 0;
}
