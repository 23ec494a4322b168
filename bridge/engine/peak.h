/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * peak.h: the largest |sample| of a buffer, for the meters (status, the
 * control panel).  The engine measures every active channel every cycle,
 * so this is written to cost a fraction of the copy it follows.
 */
#ifndef ASIOJACK_PEAK_H
#define ASIOJACK_PEAK_H

#include <stdint.h>

/* Largest |buf[i]| of `frames` samples; NaNs are left out (a meter shows
 * level, not garbage), infinities count. */
float asiojack_peak(const float *buf, uint32_t frames);

#endif /* ASIOJACK_PEAK_H */
