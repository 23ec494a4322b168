/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * jsonline.h: the test hosts' output, one JSON object per line, flushed at
 * once so the tests can follow a host while it runs.  Header-only: each
 * host is one MinGW compile of one .c file.
 */
#ifndef ASIOJACK_TEST_JSONLINE_H
#define ASIOJACK_TEST_JSONLINE_H

#include <windows.h>

#include <stdarg.h>
#include <stdio.h>

/* Callbacks and the main thread both print: lines must not interleave. */
static SRWLOCK jsonline_lock = SRWLOCK_INIT;

static void json_string(const char *s)
{
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

/* One JSON line: fmt is the body after the brace; %S is an escaped string,
 * %s raw, %d int, %ld long, %lu unsigned long, %I unsigned 64-bit, %g double. */
static void emit(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    AcquireSRWLockExclusive(&jsonline_lock);
    putchar('{');
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            putchar(*p);
            continue;
        }
        p++;
        switch (*p) {
        case 'S': json_string(va_arg(ap, const char *)); break;
        case 's': fputs(va_arg(ap, const char *), stdout); break;
        case 'd': printf("%d", va_arg(ap, int)); break;
        case 'g': printf("%.17g", va_arg(ap, double)); break;
        case 'I': printf("%llu", (unsigned long long)va_arg(ap, unsigned long long)); break;
        case 'l':
            p++;
            if (*p == 'u')
                printf("%lu", va_arg(ap, unsigned long));
            else
                printf("%ld", va_arg(ap, long));
            break;
        default: putchar(*p); break;
        }
    }
    va_end(ap);
    puts("}");
    fflush(stdout);
    ReleaseSRWLockExclusive(&jsonline_lock);
}

#endif /* ASIOJACK_TEST_JSONLINE_H */
