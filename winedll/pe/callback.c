/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * callback.c: the driver's audio thread.  It is a Wine thread, so the
 * host's bufferSwitch runs in a proper Windows context; the waiting is
 * done on the unix side (a futex on the shared segment), one WAIT and one
 * DONE unix call per cycle.  Host audio callbacks come from this thread
 * only.
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

static void session_is_gone(struct asiojack_driver *d, const char *text)
{
    InterlockedExchange(&d->jack_gone, 1);
    asiojack_copy_text(d->error, sizeof(d->error), text);
}

static void jack_is_gone(struct asiojack_driver *d)
{
    session_is_gone(d, "JACK is gone (its server stopped or crashed): asiojack needs a "
                       "restart of the audio device once JACK runs again");
}

/* The host's callback may have stopped the stream, disposed the buffers
 * (closing the session) or released the driver: then touch nothing more
 * of the session. */
static BOOL host_ended_it(struct asiojack_driver *d)
{
    return InterlockedCompareExchange(&d->quit, 0, 0) != 0;
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

    if (events & ASIOJACK_UNIX_EVENT_SERVER_GONE) {
        session_is_gone(d, "the asiojack server is gone (it stopped or crashed): re-create "
                           "the buffers or restart the audio device to start a new one");
        events = ASIOJACK_UNIX_EVENT_SERVER_GONE; /* the segment's words are void */
        reset = TRUE;
    }
    if (events & ASIOJACK_EVENT_JACK_GONE) {
        jack_is_gone(d);
        reset = TRUE;
    }
    if (events & ASIOJACK_EVENT_SAMPLE_RATE) {
        if (d->callbacks.sampleRateDidChange)
            d->callbacks.sampleRateDidChange((ASIOSampleRate)d->shm->sample_rate);
        if (host_ended_it(d))
            return;
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
            if (host_ended_it(d))
                return;
            if (!taken)
                reset = TRUE;
        }
    }
    if (!message)
        return;
    /* The engine played a cycle as silence because this thread's answer
     * came too late, or stopped waiting for it after a run of such misses
     * (it resumes by itself once the host keeps up again): one overload,
     * told to a host that listens, however many cycles it covers; nothing
     * else needs redoing. */
    if ((events & (ASIOJACK_EVENT_OVERLOAD | ASIOJACK_EVENT_STALLED)) && d->overload_messages) {
        message(kAsioOverload, 0, NULL, NULL);
        if (host_ended_it(d))
            return;
    }
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
    d->overload_messages = FALSE;
    if (message) {
        d->time_info = d->callbacks.bufferSwitchTimeInfo &&
                       message(kAsioSupportsTimeInfo, 0, NULL, NULL) == 1;
        d->latency_messages =
            message(kAsioSelectorSupported, kAsioLatenciesChanged, NULL, NULL) == 1;
        d->size_messages =
            message(kAsioSelectorSupported, kAsioBufferSizeChange, NULL, NULL) == 1;
        d->overload_messages =
            message(kAsioSelectorSupported, kAsioOverload, NULL, NULL) == 1;
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

/* Tell the engine cycle `seq` is finished: its output half is written. */
static void send_done(struct asiojack_driver *d, uint32_t seq)
{
    struct asiojack_unix_done_params done;
    done.client = d->client;
    done.seq = seq;
    done.reserved = 0;
    asiojack_unix_call(ASIOJACK_UNIX_DONE, &done);
}

void asiojack_thread_output_ready(struct asiojack_driver *d)
{
    /* Only the cycle this thread is in, once: a call from another thread or
     * between cycles (hosts probe outputReady once to learn whether the
     * driver supports it) has nothing to hand over. */
    if (GetCurrentThreadId() != d->thread_id || !d->cycle_seq || d->cycle_done)
        return;
    d->cycle_done = TRUE;
    send_done(d, d->cycle_seq);
}

static DWORD WINAPI callback_main(void *arg)
{
    struct asiojack_driver *d = arg;
    struct asiojack_unix_rt_params rt;
    struct asiojack_unix_wait_params w;
    ASIOTime time;
    /* A cycle the host finished that the next WAIT reports done: one unix
     * call per cycle instead of DONE then WAIT. */
    uint32_t finished = 0;

    /* After SetThreadPriority, so Wine's own mapping cannot undo it. */
    /* Just below the session's JACK thread, which waits for this one; no
     * real-time at all when JACK itself runs without it. */
    memset(&rt, 0, sizeof(rt));
    int32_t jack_prio = d->shm->jack_rt_priority;
    rt.priority = jack_prio > 1 ? jack_prio - 1 : jack_prio == 1 ? 1 : -1;
    /* The CPU of the session's JACK thread, if the server pinned it. */
    rt.cpu = asiojack_load_i32(&d->shm->driver_cpu);
    if (!asiojack_unix_call(ASIOJACK_UNIX_SET_RT, &rt) && rt.status) {
        rt.error[sizeof(rt.error) - 1] = 0;
        memcpy(d->rt_error, rt.error, sizeof(d->rt_error));
    }
    /* The server logs these, and so can tell why a host misses deadlines. */
    struct asiojack_shm *shm = (struct asiojack_shm *)d->shm;
    shm->peer_rt_priority = rt.priority;
    shm->peer_rt_errno = rt.status;
    shm->peer_cpu = rt.cpu;
    shm->peer_cpu_errno = rt.cpu_status;
    ask_host(d);

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
            d->cycle_seq = w.seq;
            d->cycle_done = FALSE;
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
            d->cycle_seq = 0;
            /* Unless outputReady already did: the engine then played the
             * outputs while the host was still busy in bufferSwitch.  With
             * events to deliver the cycle is reported at once, so the host
             * hears of them after its cycle is done; otherwise the next
             * WAIT reports it. */
            if (!d->cycle_done) {
                if (w.events)
                    send_done(d, w.seq);
                else
                    finished = w.seq;
            }
        }
        /* Events after the cycle is done: the host's handling of them
         * (asioMessage, often a stop and dispose on the spot) must not eat
         * into JACK's deadline, nor leave a cycle without its buffers. */
        if (w.events)
            deliver_events(d, w.events);
        /* Nothing more will come from a dead server: the host has been
         * told, and stops this thread when it handles the reset. */
        if (w.events & ASIOJACK_UNIX_EVENT_SERVER_GONE)
            break;
    }
    if (finished) {
        /* stop() from another thread ended the loop after the host's
         * cycle: it still counts as done (the session lives until stop()
         * has joined this thread). */
        send_done(d, finished);
    }
    if (InterlockedCompareExchange(&d->free_at_exit, 0, 0)) {
        /* The host dropped its last reference from inside a callback:
         * the driver is freed here, after its last use by this thread. */
        HANDLE self = d->thread;
        d->thread = NULL;
        d->thread_id = 0;
        asiojack_driver_destroy(d);
        CloseHandle(self);
    }
    /* Leave through the loader: the reference taken for this thread keeps
     * the DLL mapped until the thread no longer runs its code, even if the
     * host frees the driver (and COM the DLL) meanwhile. */
    FreeLibraryAndExitThread(asiojack_module(), 0);
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
    /* The thread's own reference to the DLL, dropped by its last act. */
    HMODULE self;
    if (!GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, (LPCWSTR)(void *)callback_main,
                            &self))
        return FALSE;
    d->thread = CreateThread(NULL, 0, callback_main, d, CREATE_SUSPENDED, &d->thread_id);
    if (!d->thread) {
        FreeLibrary(self);
        return FALSE;
    }
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
