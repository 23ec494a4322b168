/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callback.c: the driver's audio thread.  It is a Wine thread, so the
 * host's bufferSwitch runs in a proper Windows context; the waiting is
 * done on the unix side (a futex on the shared segment), one unix call per
 * cycle: WAIT reports the cycle before done and waits for the next.  Host
 * audio callbacks come from this thread only.
 */
#include <string.h>

#include "driver.h"

/* One WAIT call gives up after this long without a cycle, so the loop
 * rechecks its state; the unix side also watches d->quit while it waits. */
#define WAIT_TIMEOUT_MS 100

uint64_t asiojack_host_time_ns(void)
{
    /* Wine's performance counter and timeGetTime() share one monotonic
     * source, so ns from the counter are ns in ASIO's system time base. */
    static LARGE_INTEGER freq;
    LARGE_INTEGER now;
    if (!freq.QuadPart)
        QueryPerformanceFrequency(&freq);
    QueryPerformanceCounter(&now);
    uint64_t f = (uint64_t)freq.QuadPart, c = (uint64_t)now.QuadPart;
    return (c / f) * 1000000000ull + (c % f) * 1000000000ull / f;
}

static void jack_is_gone(struct asiojack_driver *d)
{
    static const char text[] =
        "JACK is gone (its server stopped or crashed): asiojack needs a restart of the "
        "audio device once JACK runs again";
    InterlockedExchange(&d->jack_gone, 1);
    memcpy(d->error, text, sizeof(text) < sizeof(d->error) ? sizeof(text) : sizeof(d->error));
    d->error[sizeof(d->error) - 1] = 0;
}

/*
 * Events the server raised: the host learns of them only through here, on
 * this thread, between two unix calls.  Whatever invalidates the host's
 * buffers ends in one kAsioResetRequest, after which the host stops,
 * disposes and creates its buffers again (or re-opens the driver).
 */
static void deliver_events(struct asiojack_driver *d, uint32_t events)
{
    int32_t (*message)(int32_t, int32_t, void *, double *) = d->callbacks.asioMessage;
    BOOL reset = (events & ASIOJACK_EVENT_RESET) != 0;

    if (reset)
        InterlockedExchange(&d->config_changed, 1);

    if (events & ASIOJACK_EVENT_JACK_GONE) {
        jack_is_gone(d);
        reset = TRUE;
    }
    if (events & ASIOJACK_EVENT_SAMPLE_RATE) {
        if (d->callbacks.sampleRateDidChange)
            d->callbacks.sampleRateDidChange((ASIOSampleRate)d->shm->sample_rate);
        reset = TRUE;
    }
    if (events & ASIOJACK_EVENT_BUFFER_SIZE) {
        /* In host mode the host's own createBuffers moves JACK's period:
         * the event then only confirms the size the buffers already have. */
        uint32_t frames = asiojack_load_u32(&d->shm->jack_buffer_frames);
        if (frames != d->frames) {
            /* A host that answers 1 takes the new size on its own (it
             * re-creates its buffers); only otherwise is a reset due. */
            BOOL taken = d->size_messages && message &&
                         message(kAsioBufferSizeChange, (int32_t)frames, NULL, NULL) == 1;
            if (!taken)
                reset = TRUE;
        }
    }
    if (!message)
        return;
    if (reset)
        message(kAsioResetRequest, 0, NULL, NULL);
    else if ((events & ASIOJACK_EVENT_LATENCY) && d->latency_messages)
        message(kAsioLatenciesChanged, 0, NULL, NULL);
}

/* What the host understands, asked here rather than in createBuffers so
 * that asioMessage is only ever called on this thread. */
static void ask_host(struct asiojack_driver *d)
{
    int32_t (*message)(int32_t, int32_t, void *, double *) = d->callbacks.asioMessage;
    d->time_info = FALSE;
    d->latency_messages = FALSE;
    d->size_messages = FALSE;
    if (message) {
        d->time_info = d->callbacks.bufferSwitchTimeInfo &&
                       message(kAsioSupportsTimeInfo, 0, NULL, NULL) == 1;
        d->latency_messages =
            message(kAsioSelectorSupported, kAsioLatenciesChanged, NULL, NULL) == 1;
        d->size_messages =
            message(kAsioSelectorSupported, kAsioBufferSizeChange, NULL, NULL) == 1;
    }
    if (!d->time_info && !d->callbacks.bufferSwitch) {
        /* Only bufferSwitchTimeInfo given, but the host did not say it
         * supports time info: use it anyway rather than nothing. */
        d->time_info = TRUE;
    }
}

static void fill_time(struct asiojack_driver *d, const struct asiojack_unix_wait_params *w,
                      ASIOTime *t)
{
    memset(t, 0, sizeof(*t));
    t->timeInfo.speed = 1.0;
    asiojack_split64(w->sample_position, &t->timeInfo.samplePosition.hi,
                     &t->timeInfo.samplePosition.lo);
    asiojack_split64(asiojack_host_time_ns() - w->age_ns, &t->timeInfo.systemTime.hi,
                     &t->timeInfo.systemTime.lo);
    t->timeInfo.sampleRate =
        (double)(w->sample_rate ? w->sample_rate : d->shm->sample_rate);
    t->timeInfo.flags = kSystemTimeValid | kSamplePositionValid | kSampleRateValid;

    /* JACK transport is the nearest thing to time code a host can read. */
    if (d->time_code && (w->time_flags & ASIOJACK_TIME_TRANSPORT_VALID)) {
        BOOL rolling = (w->time_flags & ASIOJACK_TIME_TRANSPORT_ROLLING) != 0;
        t->timeCode.speed = rolling ? 1.0 : 0.0;
        asiojack_split64(w->transport_frame, &t->timeCode.timeCodeSamples.hi,
                         &t->timeCode.timeCodeSamples.lo);
        t->timeCode.flags = kTcValid | kTcSpeedValid |
                            (rolling ? kTcRunning | kTcOnspeed : kTcStill);
    }
}

static DWORD WINAPI callback_main(void *arg)
{
    struct asiojack_driver *d = arg;
    struct asiojack_unix_rt_params rt;
    struct asiojack_unix_wait_params w;
    struct asiojack_unix_done_params done;
    ASIOTime time;

    /* After SetThreadPriority, so Wine's own mapping cannot undo it. */
    /* Just below the session's JACK thread, which waits for this one; no
     * real-time at all when JACK itself runs without it. */
    memset(&rt, 0, sizeof(rt));
    int32_t jack_prio = d->shm->jack_rt_priority;
    rt.priority = jack_prio > 1 ? jack_prio - 1 : jack_prio == 1 ? 1 : -1;
    if (!asiojack_unix_call(ASIOJACK_UNIX_SET_RT, &rt) && rt.status) {
        rt.error[sizeof(rt.error) - 1] = 0;
        memcpy(d->rt_error, rt.error, sizeof(d->rt_error));
    }
    /* The server logs these, and so can tell why a host misses deadlines. */
    struct asiojack_shm *shm = (struct asiojack_shm *)d->shm;
    shm->peer_rt_priority = rt.priority;
    shm->peer_rt_errno = rt.status;
    ask_host(d);

    /* A cycle the host finished, reported by the next WAIT (0 = none):
     * Wine's PE-to-unix transition is paid once per cycle, not twice. */
    uint32_t finished = 0;
    while (!InterlockedCompareExchange(&d->quit, 0, 0)) {
        memset(&w, 0, sizeof(w));
        w.client = d->client;
        w.quit_address = (uint64_t)(uintptr_t)&d->quit;
        w.timeout_ms = WAIT_TIMEOUT_MS;
        w.done_seq = finished;
        finished = 0;
        if (asiojack_unix_call(ASIOJACK_UNIX_WAIT, &w))
            break;
        if (w.ready) {
            int32_t half = (int32_t)(w.seq & 1);
            if (d->time_info) {
                fill_time(d, &w, &time);
                d->callbacks.bufferSwitchTimeInfo(&time, half, ASIOTrue);
            } else {
                d->callbacks.bufferSwitch(half, ASIOTrue);
            }
            /* A host that called stop() from inside bufferSwitch may have
             * closed the session too: touch nothing more. */
            if (InterlockedCompareExchange(&d->quit, 0, 0))
                break;
            if (w.events) {
                /* The host hears of the events below, after this cycle
                 * is done and before the next wait: report it now. */
                done.client = d->client;
                done.seq = w.seq;
                done.reserved = 0;
                asiojack_unix_call(ASIOJACK_UNIX_DONE, &done);
            } else {
                finished = w.seq;
            }
        }
        /* Events after the cycle is done: the host's handling of them
         * (asioMessage, often a stop and dispose on the spot) must not eat
         * into JACK's deadline, nor leave a cycle without its buffers. */
        if (w.events)
            deliver_events(d, w.events);
    }
    if (finished) {
        /* stop() from another thread ended the loop after the host's
         * cycle: it still counts as done, as it did when DONE came at once
         * (the session lives until stop() has joined this thread). */
        done.client = d->client;
        done.seq = finished;
        done.reserved = 0;
        asiojack_unix_call(ASIOJACK_UNIX_DONE, &done);
    }
    return 0;
}

BOOL asiojack_thread_start(struct asiojack_driver *d)
{
    if (d->thread && GetCurrentThreadId() == d->thread_id) {
        /* stop() then start() from inside a callback: this very thread
         * goes on serving; a second one would run bufferSwitch beside it. */
        InterlockedExchange(&d->quit, 0);
        return TRUE;
    }
    asiojack_thread_stop(d); /* a thread that stopped itself is joined here */
    InterlockedExchange(&d->quit, 0);
    d->thread = CreateThread(NULL, 0, callback_main, d, CREATE_SUSPENDED, &d->thread_id);
    if (!d->thread)
        return FALSE;
    SetThreadPriority(d->thread, THREAD_PRIORITY_TIME_CRITICAL);
    ResumeThread(d->thread);
    return TRUE;
}

void asiojack_thread_stop(struct asiojack_driver *d)
{
    InterlockedExchange(&d->quit, 1);
    if (!d->thread)
        return;
    /* stop() called from inside bufferSwitch: the thread cannot wait for
     * itself; it leaves its loop when the callback returns and is joined
     * by the next start() or Release. */
    if (GetCurrentThreadId() == d->thread_id)
        return;
    WaitForSingleObject(d->thread, INFINITE);
    CloseHandle(d->thread);
    d->thread = NULL;
    d->thread_id = 0;
}
