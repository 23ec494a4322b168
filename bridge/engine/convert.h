/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * convert.h: JACK's float samples to and from the host's sample type.
 * Integers scale by 2^(bits-1), round to nearest (ties to even) and clip,
 * so full scale +1.0 maps to the largest positive integer.
 */
#ifndef ASIOJACK_CONVERT_H
#define ASIOJACK_CONVERT_H

#include <stdint.h>

/* JACK float -> host buffer of `sample_type`. */
void asiojack_convert_from_float(void *dst, const float *src, uint32_t frames,
                                 uint32_t sample_type);

/* Host buffer of `sample_type` -> JACK float. */
void asiojack_convert_to_float(float *dst, const void *src, uint32_t frames,
                               uint32_t sample_type);

#endif /* ASIOJACK_CONVERT_H */
