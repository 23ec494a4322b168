/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * peak.c: the meters' peak, four samples at a time.
 *
 * A plain loop (`a > peak ? a : peak`) is not vectorised by GCC without
 * -ffast-math, whose NaN rules the meters must not take, and one
 * comparison per sample at 128 channels costs more than the engine's
 * copies.  GCC's generic vector types give the same four-lane code on
 * every architecture (SSE2 on x86-64, NEON on arm64) with the exact
 * semantics of the scalar loop: |x| is the sign bit cleared, and a NaN
 * never compares greater, so it never becomes the peak.
 */
#include "peak.h"

#include <math.h>
#include <string.h>

typedef float v4f __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

/* The larger of a and b per lane, b where a is NaN (b is never NaN here:
 * it starts at 0 and only ever takes a lane that compared greater). */
static inline v4f lane_max(v4f a, v4f b)
{
#if defined(__SSE__) && !defined(ASIOJACK_PEAK_GENERIC) /* the latter: tests */
    return __builtin_ia32_maxps(a, b); /* MAXPS: a > b ? a : b, per lane */
#else
    v4i greater = a > b;
    return (v4f)(((v4i)a & greater) | ((v4i)b & ~greater));
#endif
}

static inline v4f load_abs(const float *p)
{
    const v4i magnitude = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
    v4f x;
    memcpy(&x, p, sizeof(x)); /* JACK's buffers need not be 16-aligned */
    return (v4f)((v4i)x & magnitude);
}

float asiojack_peak(const float *buf, uint32_t frames)
{
    /* Four independent maxima, so the loop is not one long chain of
     * dependent instructions. */
    v4f m0 = {0.0f, 0.0f, 0.0f, 0.0f}, m1 = m0, m2 = m0, m3 = m0;
    uint32_t i = 0;
    for (; i + 16 <= frames; i += 16) {
        m0 = lane_max(load_abs(buf + i), m0);
        m1 = lane_max(load_abs(buf + i + 4), m1);
        m2 = lane_max(load_abs(buf + i + 8), m2);
        m3 = lane_max(load_abs(buf + i + 12), m3);
    }
    for (; i + 4 <= frames; i += 4)
        m0 = lane_max(load_abs(buf + i), m0);
    m0 = lane_max(lane_max(m0, m1), lane_max(m2, m3));
    float peak = 0.0f;
    for (int k = 0; k < 4; k++)
        if (m0[k] > peak)
            peak = m0[k];
    for (; i < frames; i++) {
        float a = fabsf(buf[i]);
        if (a > peak)
            peak = a;
    }
    return peak;
}
