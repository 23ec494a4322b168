/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * entry.c: the one door into every IASIO method.
 *
 * Each method of the vtable (see IASIO_METHOD in driver.h) enters here
 * first and leaves here last, so the rules every method shares live in
 * one place:
 *   - the state check: a method that needs an open session answers
 *     ASE_NotPresent, in words, while the driver is not initialised;
 *   - the locks: a query keeps the segment mapped while it reads it
 *     (shm_lock, shared); a state change holds d->lock, except that the
 *     callback thread is refused, not blocked, while another thread
 *     stops it (see asiojack_lock);
 *   - the error text: a failure records the sentence getErrorMessage
 *     returns, prefixed by nothing the host cannot read;
 *   - the call trace: with ASIOJACK_TRACE=/some/file in the environment,
 *     every call and its result is appended to that file (by the unix
 *     side, O_NOFOLLOW).  Off by default; when on it costs a unix call per
 *     IASIO call, also for the ones a host makes inside bufferSwitch.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"

/* -1 = not looked up yet, 0 = off, 1 = on.  Set once, racing writers
 * agree on the value. */
static volatile LONG trace_state = -1;

static BOOL tracing(void)
{
    LONG state = InterlockedCompareExchange(&trace_state, 0, 0);
    if (state < 0) {
        char path[8];
        DWORD n = GetEnvironmentVariableA("ASIOJACK_TRACE", path, sizeof(path));
        state = n > 0 && !asiojack_unix_missing();
        InterlockedExchange(&trace_state, state);
    }
    return state == 1;
}

static void trace(const char *fmt, ...)
{
    struct asiojack_unix_trace_params p;
    va_list ap;
    memset(&p, 0, sizeof(p));
    p.thread_id = GetCurrentThreadId();
    va_start(ap, fmt);
    vsnprintf(p.line, sizeof(p.line), fmt, ap);
    va_end(ap);
    asiojack_unix_call(ASIOJACK_UNIX_TRACE, &p);
}

ASIOError asiojack_fail(struct asiojack_driver *d, ASIOError code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof(d->error), fmt, ap);
    va_end(ap);
    return code;
}

ASIOError asiojack_require_session(struct asiojack_driver *d)
{
    /* d->error already says why the session could not be re-opened. */
    if (d->state == STATE_LOADED && InterlockedCompareExchange(&d->lost, 0, 0))
        return ASE_NotPresent;
    if (d->state == STATE_LOADED || !d->shm)
        return asiojack_fail(d, ASE_NotPresent,
                             "asiojack is not initialised (init failed or was not called)");
    return ASE_OK;
}

static BOOL on_callback_thread(const struct asiojack_driver *d)
{
    return d->thread_id && GetCurrentThreadId() == d->thread_id;
}

BOOL asiojack_lock(struct asiojack_driver *d)
{
    if (!on_callback_thread(d)) {
        EnterCriticalSection(&d->lock);
        return TRUE;
    }
    /* A stopping thread sets quit before it takes the lock's last steps
     * and joins this thread: from then on, give up rather than wait. */
    for (;;) {
        if (TryEnterCriticalSection(&d->lock))
            return TRUE;
        if (InterlockedCompareExchange(&d->quit, 0, 0))
            return FALSE;
        Sleep(1);
    }
}

/* A driver whose session JACK or the server took away: open a new one. */
static ASIOError reopen(struct asiojack_driver *d)
{
    if (!asiojack_open_session(d))
        return ASE_NotPresent;
    InterlockedExchange(&d->lost, 0);
    return ASE_OK;
}

ASIOError asiojack_enter(struct asiojack_driver *d, const char *method,
                         enum asiojack_need need)
{
    if (tracing())
        trace("%s (state %d)", method, (int)d->state);
    switch (need) {
    case NEED_NOTHING:
        return ASE_OK;
    case NEED_SESSION: {
        AcquireSRWLockShared(&d->shm_lock);
        ASIOError r = asiojack_require_session(d);
        if (r != ASE_OK)
            ReleaseSRWLockShared(&d->shm_lock);
        return r;
    }
    case NEED_CONTROL:
    case NEED_REOPEN:
        break;
    }
    if (!asiojack_lock(d))
        return asiojack_fail(d, ASE_InvalidMode,
                             "%s from the audio callback while another thread stops the "
                             "stream: refused (it would wait for itself)", method);
    ASIOError r = ASE_OK;
    if (need == NEED_REOPEN && d->state == STATE_LOADED && InterlockedCompareExchange(&d->lost, 0, 0))
        r = reopen(d);
    if (r == ASE_OK)
        r = asiojack_require_session(d);
    if (r != ASE_OK)
        LeaveCriticalSection(&d->lock);
    return r;
}

ASIOError asiojack_leave(struct asiojack_driver *d, const char *method,
                         enum asiojack_need need, BOOL entered, ASIOError result)
{
    if (entered && need == NEED_SESSION)
        ReleaseSRWLockShared(&d->shm_lock);
    else if (entered && need != NEED_NOTHING)
        LeaveCriticalSection(&d->lock);
    if (tracing()) {
        /* A failure that records no text of its own (ASE_SPNotAdvancing)
         * shows the last one: hence "last error", not "because". */
        BOOL failed = result != ASE_OK && result != ASE_SUCCESS;
        trace("%s -> %ld%s%s", method, (long)result, failed ? ", last error: " : "",
              failed ? d->error : "");
    }
    return result;
}
