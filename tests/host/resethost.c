/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * resethost.c: a demanding ASIO host for the tests, run under Wine.  It
 * talks IASIO directly (no PortAudio in between), streams with inputs
 * copied to outputs, and reacts to what the driver tells it the way real
 * DAWs do:
 *
 *   - it answers kAsioSelectorSupported with yes for kAsioResetRequest,
 *     kAsioBufferSizeChange, kAsioLatenciesChanged and
 *     kAsioSupportsTimeInfo, and records every asioMessage with its thread;
 *   - on kAsioResetRequest it goes back to its main thread and there stops,
 *     disposes the buffers, re-opens the driver (Release, CoCreateInstance,
 *     init, retried until it works) when the driver says JACK is gone,
 *     asks the buffer size again, re-creates the buffers and starts
 *     (with --keep-driver it never re-opens: it re-creates its buffers on
 *     the same driver object, retried until that works);
 *   - kAsioBufferSizeChange is refused (0, so a reset request follows),
 *     or with --accept-size-change taken: the host re-creates its buffers
 *     at the new size itself and expects no reset request.
 *
 *   resethost.exe [--seconds S] [--channels C] [--frames N] [--time-code]
 *                 [--no-copy] [--accept-size-change] [--commands]
 *                 [--reopen-seconds R] [--slow-every N] [--output-ready]
 *                 [--post-work-us US] [--keep-driver]
 *
 * It also says yes to kAsioOverload.  --slow-every N makes every Nth
 * bufferSwitchTimeInfo take two periods, so the driver misses its deadline.
 * --output-ready calls outputReady() once the outputs are written;
 * --post-work-us then keeps bufferSwitch busy that long (a host's meters,
 * disk writes), for scripts/bench.
 *
 * With --commands it reads lines from stdin and carries them out on its
 * main thread: "monitor IN OUT GAIN ON", "monitor-null", "can",
 * "transport start|stop", "locate FRAME", "transport-null", "panel",
 * "buffer-size", "latencies", "restart" (stop() then start() at once,
 * reporting the segment between), "quit".
 *
 * One JSON object per line; the last line is the result; the exit code
 * (0 = ok) goes through TerminateProcess, as in pahost.c.
 */
#include <windows.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../winedll/asio.h"
#include "iasio_host.h"
#include "jsonline.h"

#define MAX_CHANNELS 32

static struct {
    double seconds;
    int channels;
    LONG frames; /* 0 = the driver's preferred size */
    int time_code;
    int no_copy;
    int accept_size_change;
    int commands;
    double reopen_seconds;
    int slow_every;
    int output_ready;
    int post_work_us;
    int keep_driver;
} opt = {3.0, 2, 0, 0, 0, 0, 0, 20.0, 0, 0, 0, 0};

static iasio *drv;
static DWORD main_thread;
static int failures;

/* --- output ------------------------------------------------------------- */

static void finish(const char *why)
{
    emit("\"result\": %S, \"failures\": %d, \"why\": %S", failures ? "fail" : "ok", failures,
         why);
    fflush(stdout);
    TerminateProcess(GetCurrentProcess(), (UINT)(failures ? 1 : 0));
}

static void error_text(char *text)
{
    text[0] = 0;
    if (drv)
        drv->m->getErrorMessage(drv, text);
    text[ASIO_ERROR_TEXT_LEN - 1] = 0;
}

static uint64_t join64(uint32_t hi, uint32_t lo)
{
    return ((uint64_t)hi << 32) | lo;
}

/* --- what the callbacks saw (written on the driver's thread) ----------- */

struct stats {
    volatile LONG callbacks, plain_callbacks;
    uint64_t first_pos, last_pos, last_systime;
    uint64_t step_min, step_max;
    uint64_t time_first, time_last; /* systemTime of first and last cycle */
    volatile LONG systime_back;       /* systemTime went backwards */
    volatile LONG position_mismatch;  /* getSamplePosition inside the callback disagreed */
    volatile LONG position_errors;
    uint32_t flags_and, flags_or;
    double rate;
    volatile uint32_t tc_flags;
    volatile uint64_t tc_samples;
    volatile LONG tc_running, tc_valid;
    uint64_t tc_first_running, tc_last_running;
    volatile DWORD thread;
    int32_t first_index;              /* buffer index of the first callback */
};

static struct stats st;
static ASIOBufferInfo buffers[2 * MAX_CHANNELS];
static int n_buffers;
static LONG frames_now;
static int bytes_per_sample = 4;

static void copy_buffers(int32_t index)
{
    for (int c = 0; c < opt.channels; c++) {
        void *in = buffers[c].buffers[index];
        void *out = buffers[opt.channels + c].buffers[index];
        size_t n = (size_t)frames_now * (size_t)bytes_per_sample;
        if (opt.no_copy)
            memset(out, 0, n);
        else
            memcpy(out, in, n);
    }
}

/* After the outputs are written: outputReady, then the host's other work. */
static void after_outputs(void)
{
    if (opt.output_ready)
        drv->m->outputReady(drv);
    if (opt.post_work_us > 0) {
        LARGE_INTEGER f, start, now;
        QueryPerformanceFrequency(&f);
        QueryPerformanceCounter(&start);
        LONGLONG ticks = f.QuadPart * opt.post_work_us / 1000000;
        do
            QueryPerformanceCounter(&now);
        while (now.QuadPart - start.QuadPart < ticks);
    }
}

static void note_time(ASIOTime *t)
{
    uint64_t pos = join64(t->timeInfo.samplePosition.hi, t->timeInfo.samplePosition.lo);
    uint64_t sys = join64(t->timeInfo.systemTime.hi, t->timeInfo.systemTime.lo);
    if (st.callbacks == 0) {
        st.first_pos = pos;
        st.first_index = -1;
        st.time_first = sys;
        st.flags_and = t->timeInfo.flags;
    } else {
        uint64_t step = pos - st.last_pos;
        if (st.callbacks == 1 || step < st.step_min)
            st.step_min = step;
        if (step > st.step_max)
            st.step_max = step;
        if (sys < st.last_systime)
            st.systime_back++;
    }
    st.last_pos = pos;
    st.last_systime = sys;
    st.time_last = sys;
    st.flags_and &= t->timeInfo.flags;
    st.flags_or |= t->timeInfo.flags;
    st.rate = t->timeInfo.sampleRate;

    /* Hosts ask for the position inside the callback and expect this
     * very cycle's. */
    ASIOSamples sp;
    ASIOTimeStamp ts;
    if (drv->m->getSamplePosition(drv, &sp, &ts) != ASE_OK)
        st.position_errors++;
    else if (join64(sp.hi, sp.lo) != pos)
        st.position_mismatch++;

    uint32_t tc = t->timeCode.flags;
    uint64_t tcs = join64(t->timeCode.timeCodeSamples.hi, t->timeCode.timeCodeSamples.lo);
    st.tc_flags = tc;
    st.tc_samples = tcs;
    if (tc & kTcValid)
        st.tc_valid++;
    if ((tc & kTcValid) && (tc & kTcRunning)) {
        if (!st.tc_running)
            st.tc_first_running = tcs;
        st.tc_last_running = tcs;
        st.tc_running++;
    }
}

static ASIOTime *on_buffer_switch_time_info(ASIOTime *t, int32_t index, ASIOBool direct)
{
    (void)direct;
    st.thread = GetCurrentThreadId();
    copy_buffers(index);
    after_outputs();
    note_time(t);
    if (st.callbacks == 0)
        st.first_index = index;
    LONG n = InterlockedIncrement(&st.callbacks);
    if (opt.slow_every && n % opt.slow_every == 0)
        Sleep((DWORD)(2000 * frames_now / (st.rate > 0 ? st.rate : 48000) + 1));
    return t;
}

static void on_buffer_switch(int32_t index, ASIOBool direct)
{
    (void)direct;
    st.thread = GetCurrentThreadId();
    copy_buffers(index);
    after_outputs();
    InterlockedIncrement(&st.plain_callbacks);
}

/* asioMessage calls are queued here and printed by the main thread: a
 * callback thread must not block on the console. */
#define RING 256
static struct message {
    int32_t selector, value;
    DWORD thread;
} ring[RING];
static volatile LONG ring_head, ring_tail;

static void record(int32_t selector, int32_t value)
{
    LONG slot = InterlockedIncrement(&ring_head) - 1;
    if (slot - ring_tail < RING) {
        ring[slot % RING].selector = selector;
        ring[slot % RING].value = value;
        ring[slot % RING].thread = GetCurrentThreadId();
    }
}

static volatile LONG reset_pending, size_pending, rate_changed;

static void on_rate_changed(ASIOSampleRate rate)
{
    record(-1, (int32_t)rate);
    InterlockedExchange(&rate_changed, (LONG)rate);
}

static int32_t on_message(int32_t selector, int32_t value, void *message, double *optional)
{
    (void)message, (void)optional;
    record(selector, value);
    switch (selector) {
    case kAsioSelectorSupported:
        return value == kAsioResetRequest || value == kAsioBufferSizeChange ||
               value == kAsioLatenciesChanged || value == kAsioSupportsTimeInfo ||
               value == kAsioEngineVersion || value == kAsioOverload;
    case kAsioEngineVersion:
        return 2;
    case kAsioSupportsTimeInfo:
        return 1;
    case kAsioResetRequest:
        /* Real hosts never reset from inside the driver's callback: they
         * post it to their main thread. */
        InterlockedExchange(&reset_pending, 1);
        return 1;
    case kAsioBufferSizeChange:
        if (!opt.accept_size_change)
            return 0;
        InterlockedExchange(&size_pending, value);
        return 1;
    case kAsioLatenciesChanged:
    case kAsioOverload:
        return 1;
    default:
        return 0;
    }
}

static ASIOCallbacks callbacks = {on_buffer_switch, on_rate_changed, on_message,
                                  on_buffer_switch_time_info};

static void flush_messages(void)
{
    while (ring_tail < ring_head) {
        struct message m = ring[ring_tail % RING];
        const char *where = m.thread == main_thread ? "main" : "driver";
        emit("\"event\": \"message\", \"selector\": %ld, \"value\": %ld, \"thread\": %S, "
             "\"thread_id\": %lu",
             (long)m.selector, (long)m.value, where, (unsigned long)m.thread);
        ring_tail++;
    }
}

/* --- driver life cycle -------------------------------------------------- */

static int open_driver(void)
{
    char text[ASIO_ERROR_TEXT_LEN];
    iasio *d = NULL;
    HRESULT hr = CoCreateInstance(&clsid_asiojack, NULL, CLSCTX_INPROC_SERVER, &clsid_asiojack,
                                  (void **)&d);
    if (FAILED(hr) || !d) {
        emit("\"event\": \"open\", \"ok\": false, \"error\": \"CoCreateInstance\", \"hr\": %lu",
             (unsigned long)hr);
        return 0;
    }
    drv = d;
    if (!d->m->init(d, NULL)) {
        error_text(text);
        emit("\"event\": \"open\", \"ok\": false, \"error\": %S", text);
        d->m->Release(d);
        drv = NULL;
        return 0;
    }
    return 1;
}

static int type_bytes(int32_t type)
{
    switch (type) {
    case ASIOSTInt16LSB: return 2;
    case ASIOSTInt24LSB: return 3;
    default: return 4;
    }
}

static void describe(void)
{
    LONG ins = 0, outs = 0, mn = 0, mx = 0, pref = 0, gran = 0, li = 0, lo = 0;
    double rate = 0;
    ASIOChannelInfo ci = {.channel = 0, .isInput = ASIOTrue}, co = {.channel = 0};
    drv->m->getChannels(drv, &ins, &outs);
    drv->m->getBufferSize(drv, &mn, &mx, &pref, &gran);
    drv->m->getLatencies(drv, &li, &lo);
    drv->m->getSampleRate(drv, &rate);
    drv->m->getChannelInfo(drv, &ci);
    drv->m->getChannelInfo(drv, &co);
    bytes_per_sample = type_bytes(ci.type);
    emit("\"event\": \"device\", \"inputs\": %ld, \"outputs\": %ld, \"min\": %ld, \"max\": %ld, "
         "\"preferred\": %ld, \"granularity\": %ld, \"input_latency\": %ld, "
         "\"output_latency\": %ld, \"rate\": %g, \"in_type\": %ld, \"out_type\": %ld, "
         "\"in_name\": %S, \"out_name\": %S",
         (long)ins, (long)outs, (long)mn, (long)mx, (long)pref, (long)gran, (long)li, (long)lo,
         rate, (long)ci.type, (long)co.type, ci.name, co.name);
}

/* createBuffers at `frames` (0: the preferred size) and start. */
static int prepare_and_start(LONG frames)
{
    char text[ASIO_ERROR_TEXT_LEN];
    LONG mn, mx, pref, gran;
    if (!frames) {
        drv->m->getBufferSize(drv, &mn, &mx, &pref, &gran);
        frames = pref;
    }
    n_buffers = 0;
    for (int c = 0; c < opt.channels; c++)
        buffers[n_buffers++] = (ASIOBufferInfo){ASIOTrue, c, {NULL, NULL}};
    for (int c = 0; c < opt.channels; c++)
        buffers[n_buffers++] = (ASIOBufferInfo){ASIOFalse, c, {NULL, NULL}};
    memset(&st, 0, sizeof(st));
    frames_now = frames;
    ASIOError r = drv->m->createBuffers(drv, buffers, n_buffers, frames, &callbacks);
    error_text(text);
    emit("\"event\": \"create\", \"frames\": %ld, \"code\": %ld, \"error\": %S", (long)frames,
         (long)r, r == ASE_OK ? "" : text);
    if (r != ASE_OK)
        return 0;
    if (opt.time_code)
        drv->m->future(drv, kAsioEnableTimeCodeRead, NULL);
    r = drv->m->start(drv);
    error_text(text);
    emit("\"event\": \"started\", \"frames\": %ld, \"code\": %ld, \"error\": %S", (long)frames,
         (long)r, r == ASE_OK ? "" : text);
    return r == ASE_OK;
}

/* What one stretch of streaming (createBuffers to stop) looked like. */
static void report_segment(void)
{
    emit("\"event\": \"segment\", \"frames\": %ld, \"callbacks\": %ld, \"plain_callbacks\": %ld, "
         "\"step_min\": %I, \"step_max\": %I, \"first_pos\": %I, \"last_pos\": %I, "
         "\"time_first\": %I, \"time_last\": %I, \"systime_back\": %ld, "
         "\"position_mismatch\": %ld, \"position_errors\": %ld, \"flags_and\": %lu, "
         "\"flags_or\": %lu, \"rate\": %g, \"tc_valid\": %ld, \"tc_running\": %ld, "
         "\"tc_first_running\": %I, \"tc_last_running\": %I, \"thread_id\": %lu, "
         "\"first_index\": %ld",
         (long)frames_now, (long)st.callbacks, (long)st.plain_callbacks, st.step_min,
         st.step_max, st.first_pos, st.last_pos, st.time_first, st.time_last,
         (long)st.systime_back, (long)st.position_mismatch, (long)st.position_errors,
         (unsigned long)st.flags_and, (unsigned long)st.flags_or, st.rate, (long)st.tc_valid,
         (long)st.tc_running, st.tc_first_running, st.tc_last_running,
         (unsigned long)st.thread, (long)st.first_index);
}

static void stop_and_dispose(void)
{
    char text[ASIO_ERROR_TEXT_LEN];
    DWORD t0 = GetTickCount();
    ASIOError r1 = drv->m->stop(drv);
    ASIOError r2 = drv->m->disposeBuffers(drv);
    error_text(text);
    emit("\"event\": \"stopped\", \"stop\": %ld, \"dispose\": %ld, \"ms\": %lu, \"error\": %S",
         (long)r1, (long)r2, (unsigned long)(GetTickCount() - t0), text);
    if (r1 != ASE_OK || r2 != ASE_OK)
        failures++;
    report_segment();
}

/* The host's reaction to kAsioResetRequest (or a size it accepted). */
static int handle_reset(LONG new_size)
{
    char text[ASIO_ERROR_TEXT_LEN];
    stop_and_dispose();
    error_text(text);
    /* A DAW shows the driver's message and re-opens the device when the
     * driver says its backend went away. */
    int reopen = !opt.keep_driver && strstr(text, "gone") != NULL;
    emit("\"event\": \"reset\", \"error\": %S, \"reopen\": %s, \"new_size\": %ld", text,
         reopen ? "true" : "false", (long)new_size);
    if (reopen) {
        ULONG refs = drv->m->Release(drv);
        drv = NULL;
        emit("\"event\": \"released\", \"refs\": %lu", (unsigned long)refs);
        DWORD t0 = GetTickCount();
        int attempts = 0;
        while (!open_driver()) {
            attempts++;
            if (GetTickCount() - t0 > (DWORD)(opt.reopen_seconds * 1000)) {
                failures++;
                finish("the driver could not be opened again");
            }
            Sleep(250);
        }
        emit("\"event\": \"reopened\", \"attempts\": %d, \"ms\": %lu", attempts + 1,
             (unsigned long)(GetTickCount() - t0));
    }
    describe();
    if (!opt.keep_driver)
        return prepare_and_start(new_size);
    /* The same driver object: createBuffers must come back once JACK (or
     * a server) is there again. */
    DWORD t0 = GetTickCount();
    while (!prepare_and_start(new_size)) {
        if (GetTickCount() - t0 > (DWORD)(opt.reopen_seconds * 1000)) {
            failures++;
            finish("createBuffers never worked again on the same driver");
        }
        Sleep(250);
        describe();
    }
    return 1;
}

/* --- commands from stdin ------------------------------------------------ */

#define COMMANDS 32
static char command_queue[COMMANDS][128];
static volatile LONG command_head, command_tail;
static volatile LONG stdin_closed;

static DWORD WINAPI read_commands(void *arg)
{
    (void)arg;
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    char line[128];
    size_t n = 0;
    for (;;) {
        char c;
        DWORD got = 0;
        if (!ReadFile(in, &c, 1, &got, NULL) || got == 0)
            break;
        if (c == '\r')
            continue;
        if (c != '\n') {
            if (n < sizeof(line) - 1)
                line[n++] = c;
            continue;
        }
        line[n] = 0;
        n = 0;
        while (command_head - command_tail >= COMMANDS)
            Sleep(5);
        memcpy(command_queue[command_head % COMMANDS], line, sizeof(line));
        InterlockedIncrement(&command_head);
    }
    InterlockedExchange(&stdin_closed, 1);
    return 0;
}

static void reply(const char *cmd, ASIOError r, DWORD ms)
{
    char text[ASIO_ERROR_TEXT_LEN];
    error_text(text);
    emit("\"event\": \"command\", \"command\": %S, \"code\": %ld, \"ms\": %lu, \"error\": %S", cmd,
         (long)r, (unsigned long)ms, text);
}

/* Returns 0 when the host should quit. */
static int run_command(const char *cmd)
{
    long a = 0, b = 0, c = 0, on = 0;
    unsigned long long frame = 0;
    DWORD t0 = GetTickCount();
    if (!strcmp(cmd, "quit"))
        return 0;
    if (sscanf(cmd, "monitor %ld %ld %ld %ld", &a, &b, &c, &on) == 4) {
        ASIOInputMonitor m = {(int32_t)a, (int32_t)b, (int32_t)c, on ? ASIOTrue : ASIOFalse,
                              0x3fffffff};
        reply(cmd, drv->m->future(drv, kAsioSetInputMonitor, &m), GetTickCount() - t0);
    } else if (!strcmp(cmd, "monitor-null")) {
        reply(cmd, drv->m->future(drv, kAsioSetInputMonitor, NULL), GetTickCount() - t0);
    } else if (!strcmp(cmd, "transport-null")) {
        reply(cmd, drv->m->future(drv, kAsioTransport, NULL), GetTickCount() - t0);
    } else if (!strcmp(cmd, "can")) {
        emit("\"event\": \"can\", \"input_monitor\": %ld, \"transport\": %ld, "
             "\"time_info\": %ld, \"time_code\": %ld, \"overload\": %ld",
             (long)drv->m->future(drv, kAsioCanInputMonitor, NULL),
             (long)drv->m->future(drv, kAsioCanTransport, NULL),
             (long)drv->m->future(drv, kAsioCanTimeInfo, NULL),
             (long)drv->m->future(drv, kAsioCanTimeCode, NULL),
             (long)drv->m->future(drv, kAsioCanReportOverload, NULL));
    } else if (!strcmp(cmd, "transport start") || !strcmp(cmd, "transport stop") ||
               !strcmp(cmd, "transport punch")) {
        ASIOTransportParameters t;
        memset(&t, 0, sizeof(t));
        t.command = !strcmp(cmd, "transport start") ? kTransportStart
                    : !strcmp(cmd, "transport stop") ? kTransportStop
                                                     : kTransportPunchIn;
        reply(cmd, drv->m->future(drv, kAsioTransport, &t), GetTickCount() - t0);
    } else if (sscanf(cmd, "locate %llu", &frame) == 1) {
        ASIOTransportParameters t;
        memset(&t, 0, sizeof(t));
        t.command = kTransportLocate;
        t.samplePosition.hi = (uint32_t)(frame >> 32);
        t.samplePosition.lo = (uint32_t)frame;
        reply(cmd, drv->m->future(drv, kAsioTransport, &t), GetTickCount() - t0);
    } else if (!strcmp(cmd, "panel")) {
        ASIOError r = drv->m->controlPanel(drv);
        reply(cmd, r, GetTickCount() - t0);
    } else if (!strcmp(cmd, "buffer-size") || !strcmp(cmd, "latencies")) {
        describe();
    } else if (!strcmp(cmd, "restart")) {
        /* stop() and start() back to back, well within one period: the
         * callback thread is joined by stop(), so the counts are ours. */
        ASIOError r1 = drv->m->stop(drv);
        LONG stopped_callbacks = st.callbacks;
        memset(&st, 0, sizeof(st));
        ASIOError r2 = drv->m->start(drv);
        DWORD ms = GetTickCount() - t0;
        emit("\"event\": \"restarted\", \"stop\": %ld, \"start\": %ld, \"ms\": %lu, "
             "\"callbacks_before\": %ld",
             (long)r1, (long)r2, (unsigned long)ms, (long)stopped_callbacks);
    } else if (!strcmp(cmd, "segment")) {
        report_segment();
    } else {
        emit("\"event\": \"command\", \"command\": %S, \"error\": \"unknown command\"", cmd);
    }
    return 1;
}

/* --- main --------------------------------------------------------------- */

static int parse(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--time-code"))
            opt.time_code = 1;
        else if (!strcmp(a, "--no-copy"))
            opt.no_copy = 1;
        else if (!strcmp(a, "--accept-size-change"))
            opt.accept_size_change = 1;
        else if (!strcmp(a, "--commands"))
            opt.commands = 1;
        else if (!strcmp(a, "--keep-driver"))
            opt.keep_driver = 1;
        else if (v && !strcmp(a, "--seconds"))
            opt.seconds = atof(v), i++;
        else if (v && !strcmp(a, "--channels"))
            opt.channels = atoi(v), i++;
        else if (v && !strcmp(a, "--frames"))
            opt.frames = atol(v), i++;
        else if (v && !strcmp(a, "--reopen-seconds"))
            opt.reopen_seconds = atof(v), i++;
        else if (v && !strcmp(a, "--slow-every"))
            opt.slow_every = atoi(v), i++;
        else if (!strcmp(a, "--output-ready"))
            opt.output_ready = 1;
        else if (v && !strcmp(a, "--post-work-us"))
            opt.post_work_us = atoi(v), i++;
        else
            return -1;
    }
    return opt.channels >= 1 && opt.channels <= MAX_CHANNELS ? 0 : -1;
}

int main(int argc, char **argv)
{
    main_thread = GetCurrentThreadId();
    if (parse(argc, argv) < 0) {
        failures++;
        finish("usage: resethost.exe [--seconds S] [--channels C] [--frames N] [--time-code] "
               "[--no-copy] [--accept-size-change] [--commands] [--reopen-seconds R] "
               "[--slow-every N] [--output-ready] [--post-work-us US] [--keep-driver]");
    }
    CoInitialize(NULL);
    if (!open_driver()) {
        failures++;
        finish("init failed");
    }
    describe();
    if (!prepare_and_start(opt.frames)) {
        failures++;
        finish("createBuffers or start failed");
    }
    if (opt.commands)
        CloseHandle(CreateThread(NULL, 0, read_commands, NULL, 0, NULL));

    DWORD t0 = GetTickCount(), last_tick = t0;
    int quit = 0;
    while (!quit && (opt.commands || GetTickCount() - t0 < (DWORD)(opt.seconds * 1000))) {
        Sleep(10);
        flush_messages();
        if (GetTickCount() - last_tick >= 100) {
            last_tick = GetTickCount();
            emit("\"event\": \"tick\", \"callbacks\": %ld, \"pos\": %I, \"tc_flags\": %lu, "
                 "\"tc_samples\": %I, \"frames\": %ld",
                 (long)st.callbacks, st.last_pos, (unsigned long)st.tc_flags, st.tc_samples,
                 (long)frames_now);
        }
        while (command_tail < command_head) {
            char cmd[128];
            memcpy(cmd, command_queue[command_tail % COMMANDS], sizeof(cmd));
            InterlockedIncrement(&command_tail);
            if (!run_command(cmd))
                quit = 1;
        }
        if (opt.commands && stdin_closed && command_tail == command_head)
            quit = 1;
        LONG size = InterlockedExchange(&size_pending, 0);
        LONG reset = InterlockedExchange(&reset_pending, 0);
        if (reset || size) {
            flush_messages();
            if (!handle_reset(reset ? 0 : size)) {
                failures++;
                finish("re-creating the buffers failed");
            }
        }
    }
    flush_messages();
    stop_and_dispose();
    flush_messages();
    if (st.callbacks + st.plain_callbacks == 0)
        failures++;
    ULONG refs = drv->m->Release(drv);
    if (refs != 0)
        failures++;
    CoUninitialize();
    finish(failures ? "see the events" : "done");
    return 0;
}
