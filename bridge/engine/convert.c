/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* convert.c: sample conversion, real-time safe (no allocation, no calls
 * beyond libm's rounding). */
#include "convert.h"

#include <math.h>
#include <string.h>

#include "asiojack_abi.h"

static inline int32_t scale_clip(float x, double full, double lo, double hi)
{
    double y = nearbyint((double)x * full);
    if (y > hi)
        y = hi;
    if (y < lo)
        y = lo;
    if (y != y) /* NaN from the graph must not become a random integer */
        y = 0;
    return (int32_t)y;
}

void asiojack_convert_from_float(void *dst, const float *src, uint32_t frames,
                                 uint32_t sample_type)
{
    uint32_t i;
    switch (sample_type) {
    case ASIOJACK_SAMPLE_INT32: {
        int32_t *d = dst;
        for (i = 0; i < frames; i++)
            d[i] = scale_clip(src[i], 2147483648.0, -2147483648.0, 2147483647.0);
        break;
    }
    case ASIOJACK_SAMPLE_INT24: {
        uint8_t *d = dst;
        for (i = 0; i < frames; i++) {
            int32_t v = scale_clip(src[i], 8388608.0, -8388608.0, 8388607.0);
            d[3 * i] = (uint8_t)(v & 0xff);
            d[3 * i + 1] = (uint8_t)((v >> 8) & 0xff);
            d[3 * i + 2] = (uint8_t)((v >> 16) & 0xff);
        }
        break;
    }
    case ASIOJACK_SAMPLE_INT16: {
        int16_t *d = dst;
        for (i = 0; i < frames; i++)
            d[i] = (int16_t)scale_clip(src[i], 32768.0, -32768.0, 32767.0);
        break;
    }
    default:
        memcpy(dst, src, (size_t)frames * sizeof(float));
        break;
    }
}

void asiojack_convert_to_float(float *dst, const void *src, uint32_t frames,
                               uint32_t sample_type)
{
    uint32_t i;
    switch (sample_type) {
    case ASIOJACK_SAMPLE_INT32: {
        const int32_t *s = src;
        for (i = 0; i < frames; i++)
            dst[i] = (float)((double)s[i] / 2147483648.0);
        break;
    }
    case ASIOJACK_SAMPLE_INT24: {
        const uint8_t *s = src;
        for (i = 0; i < frames; i++) {
            uint32_t u = (uint32_t)s[3 * i] | ((uint32_t)s[3 * i + 1] << 8) |
                         ((uint32_t)s[3 * i + 2] << 16);
            int32_t v = (int32_t)(u << 8) >> 8; /* sign-extend 24 bits */
            dst[i] = (float)((double)v / 8388608.0);
        }
        break;
    }
    case ASIOJACK_SAMPLE_INT16: {
        const int16_t *s = src;
        for (i = 0; i < frames; i++)
            dst[i] = (float)((double)s[i] / 32768.0);
        break;
    }
    default:
        memcpy(dst, src, (size_t)frames * sizeof(float));
        break;
    }
}
