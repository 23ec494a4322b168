/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * trace.c: the IASIO call trace (see pe/entry.c).  Off unless the
 * environment names a file in ASIOJACK_TRACE.  The file is opened once,
 * O_NOFOLLOW so a planted symlink cannot redirect it, mode 0600, and each
 * line goes out in one write() to an O_APPEND file, so lines from several
 * threads never interleave.  Not for the audio path: it is only called
 * when tracing is on, and then its cost is the point.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "futex.h"
#include "unix_private.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int trace_fd = -1;

static void open_trace(void)
{
    const char *path = getenv("ASIOJACK_TRACE");
    if (path && *path)
        trace_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
}

asiojack_ntstatus asiojack_unix_trace(void *args)
{
    struct asiojack_unix_trace_params *p = args;
    char line[sizeof(p->line) + 64];
    pthread_once(&once, open_trace);
    if (trace_fd < 0)
        return ASIOJACK_STATUS_SUCCESS;
    p->line[sizeof(p->line) - 1] = 0;
    uint64_t now = asiojack_now_ns();
    int n = snprintf(line, sizeof(line), "%llu.%06llu %u %s\n",
                     (unsigned long long)(now / 1000000000u),
                     (unsigned long long)(now % 1000000000u / 1000u), (unsigned)p->thread_id,
                     p->line);
    if (n > 0) {
        size_t len = (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
        ssize_t written = write(trace_fd, line, len);
        (void)written; /* a trace that cannot be written is no reason to fail */
    }
    return ASIOJACK_STATUS_SUCCESS;
}
