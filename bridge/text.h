/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * text.h: bounded string copies for fixed-size text fields.  Used on both
 * sides of the Wine boundary (gcc and MinGW): fields of the contract and of
 * the unix-call structs are fixed arrays, and a source that is not
 * terminated within `size` must still give a terminated copy.
 */
#ifndef ASIOJACK_TEXT_H
#define ASIOJACK_TEXT_H

#include <stddef.h>
#include <string.h>

/* Copy at most size - 1 bytes of `src` (NULL = "") and terminate. */
static inline void asiojack_copy_text(char *dst, size_t size, const char *src)
{
    size_t n = src ? strnlen(src, size - 1) : 0;
    if (n)
        memcpy(dst, src, n);
    dst[n] = 0;
}

#endif /* ASIOJACK_TEXT_H */
