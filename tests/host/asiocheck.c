/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * asiocheck.c: drives the asiojack driver through IASIO directly, the way
 * a host would but without PortAudio in between, to check the corners
 * PortAudio never reaches: NULL pointers, odd sample rates, bad buffer
 * requests, calls out of order, and that no callback arrives after stop().
 *
 *   asiocheck.exe [--no-server]
 *
 * With --no-server, init is expected to fail with a message.  One JSON
 * object per line; the last line is the result; the exit code is the
 * number of failed checks (through TerminateProcess, as in pahost.c).
 */
#include <windows.h>

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../../winedll/asio.h"
#include "iasio_host.h"


static int failures;

static void check(const char *name, int ok, const char *fmt, ...)
{
    char detail[256] = "";
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(detail, sizeof(detail), fmt, ap);
        va_end(ap);
    }
    if (!ok)
        failures++;
    printf("{\"check\": \"%s\", \"ok\": %s, \"detail\": \"", name, ok ? "true" : "false");
    for (const char *p = detail; *p; p++)
        printf(*p == '"' || *p == '\\' ? "\\%c" : "%c", *p);
    printf("\"}\n");
    fflush(stdout);
}

/* A refusal must come with the right code and words that say why: the
 * message has to name `word`. */
static void refused(iasio *d, const char *name, ASIOError got, ASIOError want, const char *word)
{
    char text[ASIO_ERROR_TEXT_LEN] = "";
    char message_name[96];
    d->m->getErrorMessage(d, text);
    check(name, got == want, "got %ld, want %ld", (long)got, (long)want);
    snprintf(message_name, sizeof(message_name), "%s-message", name);
    check(message_name, text[0] && strstr(text, word) != NULL, "%s", text);
}

static void finish(void)
{
    printf("{\"result\": \"%s\", \"failures\": %d}\n", failures ? "fail" : "ok", failures);
    fflush(stdout);
    TerminateProcess(GetCurrentProcess(), (UINT)failures);
}

/* --- host callbacks ----------------------------------------------------- */

static volatile LONG switches, time_switches, resets;
static volatile DWORD callback_thread, other_thread_seen;
static volatile LONG bad_index;
static int answer_time_info;

static void note_thread(void)
{
    DWORD me = GetCurrentThreadId();
    if (!callback_thread)
        callback_thread = me;
    else if (callback_thread != me)
        other_thread_seen = me;
}

static void buffer_switch(int32_t index, ASIOBool direct)
{
    (void)direct;
    note_thread();
    if (index != 0 && index != 1)
        bad_index = 1;
    InterlockedIncrement(&switches);
}

static ASIOTime *buffer_switch_time_info(ASIOTime *t, int32_t index, ASIOBool direct)
{
    (void)direct;
    note_thread();
    if (index != 0 && index != 1)
        bad_index = 1;
    if (!(t->timeInfo.flags & kSamplePositionValid))
        bad_index = 1;
    InterlockedIncrement(&time_switches);
    return t;
}

static void rate_changed(ASIOSampleRate rate)
{
    (void)rate;
}

static int32_t asio_message(int32_t selector, int32_t value, void *message, double *opt)
{
    (void)message, (void)opt;
    switch (selector) {
    case kAsioSelectorSupported:
        return value == kAsioResetRequest || value == kAsioSupportsTimeInfo ||
               value == kAsioLatenciesChanged;
    case kAsioSupportsTimeInfo:
        return answer_time_info;
    case kAsioResetRequest:
        InterlockedIncrement(&resets);
        return 1;
    default:
        return 0;
    }
}

static ASIOCallbacks callbacks = {buffer_switch, rate_changed, asio_message,
                                  buffer_switch_time_info};

/* --- checks ------------------------------------------------------------- */

static iasio *create(void)
{
    iasio *d = NULL;
    /* Hosts pass the CLSID as the interface id: the driver must accept it. */
    HRESULT hr = CoCreateInstance(&clsid_asiojack, NULL, CLSCTX_INPROC_SERVER,
                                  &clsid_asiojack, (void **)&d);
    check("create", SUCCEEDED(hr) && d, "hr %#lx", (unsigned long)hr);
    return SUCCEEDED(hr) ? d : NULL;
}

static void before_init(void)
{
    iasio *d = create();
    LONG a, b;
    char text[ASIO_ERROR_TEXT_LEN];
    ASIOBufferInfo info = {ASIOFalse, 0, {NULL, NULL}};
    if (!d)
        return;
    check("channels-before-init", d->m->getChannels(d, &a, &b) == ASE_NotPresent, NULL);
    check("create-before-init", d->m->createBuffers(d, &info, 1, 256, &callbacks) == ASE_NotPresent,
          NULL);
    check("start-before-init", d->m->start(d) == ASE_NotPresent, NULL);
    check("output-ready-before-init", d->m->outputReady(d) == ASE_NotPresent, NULL);
    d->m->getErrorMessage(d, text);
    check("message-before-init", text[0] != 0, "%s", text);
    d->m->getErrorMessage(d, NULL);
    d->m->getDriverName(d, NULL);
    check("release", d->m->Release(d) == 0, NULL);
}

static void queries(iasio *d, LONG *n_in, LONG *n_out, LONG *frames, double *rate)
{
    char name[ASIO_DRIVER_NAME_LEN];
    LONG mn, mx, pref, gran, li, lo;
    ASIOClockSource clocks[4];
    LONG nclocks = 4;
    ASIOChannelInfo ci;

    d->m->getDriverName(d, name);
    check("driver-name", !strcmp(name, "asiojack"), "%s", name);
    /* Each call happens before its check(): argument order is unspecified. */
    ASIOError r = d->m->getChannels(d, n_in, n_out);
    check("channels", r == ASE_OK && *n_in > 0 && *n_out > 0, "%ld in, %ld out", (long)*n_in,
          (long)*n_out);
    check("channels-null", d->m->getChannels(d, NULL, NULL) == ASE_InvalidParameter, NULL);
    r = d->m->getBufferSize(d, &mn, &mx, &pref, &gran);
    check("buffer-size", r == ASE_OK && mn == mx && mx == pref && gran == 0 && pref > 0,
          "%ld %ld %ld %ld", (long)mn, (long)mx, (long)pref, (long)gran);
    *frames = pref;
    r = d->m->getLatencies(d, &li, &lo);
    check("latencies", r == ASE_OK && li >= pref && lo >= pref,
          "%ld %ld", (long)li, (long)lo);
    r = d->m->getSampleRate(d, rate);
    check("sample-rate", r == ASE_OK && *rate > 0, "%g", *rate);
    check("sample-rate-null", d->m->getSampleRate(d, NULL) == ASE_InvalidParameter, NULL);
    check("can-rate-jack", d->m->canSampleRate(d, *rate) == ASE_OK, NULL);
    check("can-rate-other", d->m->canSampleRate(d, *rate == 44100.0 ? 48000.0 : 44100.0) ==
                                ASE_NoClock, NULL);
    check("can-rate-zero", d->m->canSampleRate(d, 0.0) == ASE_NoClock, NULL);
    check("can-rate-negative", d->m->canSampleRate(d, -48000.0) == ASE_NoClock, NULL);
    check("can-rate-nan", d->m->canSampleRate(d, NAN) == ASE_InvalidParameter, NULL);
    check("can-rate-inf", d->m->canSampleRate(d, INFINITY) == ASE_InvalidParameter, NULL);
    check("can-rate-minus-inf", d->m->canSampleRate(d, -INFINITY) == ASE_InvalidParameter, NULL);
    check("set-rate-jack", d->m->setSampleRate(d, *rate) == ASE_OK, NULL);
    check("set-rate-external", d->m->setSampleRate(d, 0.0) == ASE_OK, NULL);
    check("set-rate-other", d->m->setSampleRate(d, *rate * 2) == ASE_NoClock, NULL);
    check("set-rate-nan", d->m->setSampleRate(d, NAN) == ASE_InvalidParameter, NULL);
    r = d->m->getClockSources(d, clocks, &nclocks);
    check("clock-sources",
          r == ASE_OK && nclocks == 1 && !strcmp(clocks[0].name, "JACK") &&
              clocks[0].isCurrentSource,
          "%ld", (long)nclocks);
    check("clock-sources-null", d->m->getClockSources(d, NULL, NULL) == ASE_InvalidParameter, NULL);
    check("set-clock-0", d->m->setClockSource(d, 0) == ASE_OK, NULL);
    check("set-clock-1", d->m->setClockSource(d, 1) == ASE_InvalidParameter, NULL);
    check("channel-info-null", d->m->getChannelInfo(d, NULL) == ASE_InvalidParameter, NULL);
    ci = (ASIOChannelInfo){.channel = -1, .isInput = ASIOTrue};
    check("channel-info-negative", d->m->getChannelInfo(d, &ci) == ASE_InvalidParameter, NULL);
    ci = (ASIOChannelInfo){.channel = *n_out, .isInput = ASIOFalse};
    check("channel-info-range", d->m->getChannelInfo(d, &ci) == ASE_InvalidParameter, NULL);
    ci = (ASIOChannelInfo){.channel = 0, .isInput = ASIOTrue};
    r = d->m->getChannelInfo(d, &ci);
    check("channel-info",
          r == ASE_OK && ci.type == ASIOSTFloat32LSB && ci.name[0] && !ci.isActive &&
              ci.channelGroup == 0,
          "%s type %ld", ci.name, (long)ci.type);
    /* Every channel's name, for tests of configured port names. */
    for (LONG i = 0; i < *n_in + *n_out; i++) {
        char label[48];
        int input = i < *n_in;
        ci = (ASIOChannelInfo){.channel = input ? i : i - *n_in, .isInput = input};
        snprintf(label, sizeof(label), "channel-name-%s-%ld", input ? "in" : "out",
                 (long)ci.channel);
        r = d->m->getChannelInfo(d, &ci);
        check(label, r == ASE_OK && ci.name[0], "%s", ci.name);
    }
    check("future-time-info", d->m->future(d, kAsioCanTimeInfo, NULL) == ASE_SUCCESS, NULL);
    check("future-time-code", d->m->future(d, kAsioCanTimeCode, NULL) == ASE_SUCCESS, NULL);
    check("future-input-monitor", d->m->future(d, kAsioCanInputMonitor, NULL) == ASE_SUCCESS,
          NULL);
    check("future-transport", d->m->future(d, kAsioCanTransport, NULL) == ASE_SUCCESS, NULL);
    check("future-unknown", d->m->future(d, 0x7fff, NULL) == ASE_InvalidParameter, NULL);
    check("future-zero", d->m->future(d, 0, NULL) == ASE_InvalidParameter, NULL);
    check("future-negative", d->m->future(d, -1, NULL) == ASE_InvalidParameter, NULL);
    check("future-input-gain", d->m->future(d, kAsioSetInputGain, NULL) == ASE_InvalidParameter,
          NULL);
    refused(d, "monitor-null", d->m->future(d, kAsioSetInputMonitor, NULL), ASE_InvalidParameter,
            "ASIOInputMonitor");
    refused(d, "transport-null", d->m->future(d, kAsioTransport, NULL), ASE_InvalidParameter,
            "ASIOTransportParameters");
    ASIOInputMonitor mon = {(int32_t)*n_in, 0, 0x20000000, ASIOTrue, 0};
    refused(d, "monitor-bad-input", d->m->future(d, kAsioSetInputMonitor, &mon),
            ASE_InvalidParameter, "input");
    refused(d, "latencies-null", d->m->getLatencies(d, NULL, NULL), ASE_InvalidParameter,
            "getLatencies");
    refused(d, "buffer-size-null", d->m->getBufferSize(d, NULL, NULL, NULL, NULL),
            ASE_InvalidParameter, "getBufferSize");
    /* outputReady is supported once there is a session (hosts probe it
     * once, outside any cycle): yes, with nothing to hand over yet. */
    check("output-ready-early", d->m->outputReady(d) == ASE_OK, NULL);
    check("position-early", d->m->getSamplePosition(d, &(ASIOSamples){0, 0},
                                                    &(ASIOTimeStamp){0, 0}) ==
                                 ASE_SPNotAdvancing, NULL);
    check("position-null", d->m->getSamplePosition(d, NULL, NULL) == ASE_InvalidParameter, NULL);
    refused(d, "start-unprepared", d->m->start(d), ASE_InvalidMode, "createBuffers");
    check("dispose-unprepared", d->m->disposeBuffers(d) == ASE_InvalidMode, NULL);
}

static void bad_buffers(iasio *d, LONG n_in, LONG n_out, LONG frames)
{
    ASIOBufferInfo b[3] = {{ASIOTrue, 0, {0}}, {ASIOFalse, 0, {0}}, {ASIOFalse, 0, {0}}};
    check("create-null-infos", d->m->createBuffers(d, NULL, 1, frames, &callbacks) ==
                                   ASE_InvalidParameter, NULL);
    check("create-null-callbacks", d->m->createBuffers(d, b, 2, frames, NULL) ==
                                       ASE_InvalidParameter, NULL);
    check("create-zero", d->m->createBuffers(d, b, 0, frames, &callbacks) == ASE_InvalidParameter,
          NULL);
    check("create-too-many", d->m->createBuffers(d, b, n_in + n_out + 1, frames, &callbacks) ==
                                 ASE_InvalidParameter, NULL);
    char jack_size[16];
    snprintf(jack_size, sizeof(jack_size), "%ld", (long)frames);
    refused(d, "create-size", d->m->createBuffers(d, b, 2, frames + 1, &callbacks),
            ASE_InvalidParameter, jack_size);
    check("create-duplicate", d->m->createBuffers(d, b + 1, 2, frames, &callbacks) ==
                                  ASE_InvalidParameter, NULL);
    b[2].channelNum = n_out;
    check("create-range", d->m->createBuffers(d, b + 1, 2, frames, &callbacks) ==
                              ASE_InvalidParameter, NULL);
    b[2].channelNum = -1;
    check("create-negative", d->m->createBuffers(d, b + 1, 2, frames, &callbacks) ==
                                 ASE_InvalidParameter, NULL);
}

static void run(iasio *d, LONG frames, int time_info)
{
    ASIOBufferInfo b[2] = {{ASIOTrue, 0, {0}}, {ASIOFalse, 0, {0}}};
    ASIOChannelInfo ci = {.channel = 0, .isInput = ASIOFalse};
    ASIOSamples pos1, pos2;
    ASIOTimeStamp ts;
    const char *tag = time_info ? "time-info" : "plain";
    char name[64];

    answer_time_info = time_info;
    switches = time_switches = 0;
    callback_thread = other_thread_seen = 0;
    snprintf(name, sizeof(name), "create-%s", tag);
    check(name, d->m->createBuffers(d, b, 2, frames, &callbacks) == ASE_OK, NULL);
    check("buffers-set", b[0].buffers[0] && b[0].buffers[1] && b[1].buffers[0] &&
                             b[1].buffers[1] && b[0].buffers[0] != b[1].buffers[0] &&
                             b[1].buffers[0] != b[1].buffers[1], NULL);
    refused(d, "create-twice", d->m->createBuffers(d, b, 2, frames, &callbacks),
            ASE_InvalidMode, "disposeBuffers");
    check("stop-when-stopped", d->m->stop(d) == ASE_OK, NULL);
    check("channel-active", d->m->getChannelInfo(d, &ci) == ASE_OK && ci.isActive, NULL);

    check("start", d->m->start(d) == ASE_OK, NULL);
    Sleep(300);
    ASIOError r1 = d->m->getSamplePosition(d, &pos1, &ts);
    Sleep(100);
    ASIOError r2 = d->m->getSamplePosition(d, &pos2, &ts);
    check("position-advances", r1 == ASE_OK && r2 == ASE_OK && pos2.lo > pos1.lo, "%lu -> %lu",
          (unsigned long)pos1.lo, (unsigned long)pos2.lo);
    DWORD t0 = GetTickCount();
    ASIOError r = d->m->stop(d);
    DWORD stop_ms = GetTickCount() - t0;
    check("stop", r == ASE_OK && stop_ms < 100, "%lu ms", (unsigned long)stop_ms);
    check("stop-twice", d->m->stop(d) == ASE_OK, NULL);
    LONG after_stop = switches + time_switches;
    Sleep(150);
    snprintf(name, sizeof(name), "callbacks-%s", tag);
    check(name, after_stop > 0 && (time_info ? time_switches > 0 && switches == 0
                                             : switches > 0 && time_switches == 0),
          "%ld plain, %ld with time info", (long)switches, (long)time_switches);
    check("none-after-stop", switches + time_switches == after_stop, NULL);
    check("one-thread", !other_thread_seen && !bad_index, NULL);
    check("dispose", d->m->disposeBuffers(d) == ASE_OK, NULL);
    check("dispose-twice", d->m->disposeBuffers(d) == ASE_InvalidMode, NULL);
}

/* disposeBuffers implies stop: no callback may come after it returns. */
static void dispose_while_running(iasio *d, LONG frames)
{
    ASIOBufferInfo b[2] = {{ASIOTrue, 0, {0}}, {ASIOFalse, 0, {0}}};
    answer_time_info = 1;
    switches = time_switches = 0;
    check("create-again", d->m->createBuffers(d, b, 2, frames, &callbacks) == ASE_OK, NULL);
    check("start-again", d->m->start(d) == ASE_OK, NULL);
    Sleep(200);
    DWORD t0 = GetTickCount();
    ASIOError r = d->m->disposeBuffers(d);
    DWORD ms = GetTickCount() - t0;
    LONG at_dispose = switches + time_switches;
    check("dispose-while-running", r == ASE_OK && ms < 100 && at_dispose > 0,
          "%lu ms, %ld callbacks", (unsigned long)ms, (long)at_dispose);
    Sleep(150);
    check("none-after-dispose", switches + time_switches == at_dispose, NULL);
    refused(d, "start-after-dispose", d->m->start(d), ASE_InvalidMode, "createBuffers");
}

int main(int argc, char **argv)
{
    int no_server = argc > 1 && !strcmp(argv[1], "--no-server");
    char text[ASIO_ERROR_TEXT_LEN];
    LONG n_in = 0, n_out = 0, frames = 0;
    double rate = 0;

    CoInitialize(NULL);
    before_init();
    iasio *d = create();
    if (!d)
        finish();

    DWORD t0 = GetTickCount();
    ASIOBool ok = d->m->init(d, NULL);
    d->m->getErrorMessage(d, text);
    if (no_server) {
        check("init-fails", !ok && text[0], "%s", text);
        d->m->Release(d);
        finish();
    }
    check("init", ok, "%lu ms; %s", (unsigned long)(GetTickCount() - t0), text);
    if (!ok)
        finish();
    check("init-twice", d->m->init(d, NULL), NULL);
    queries(d, &n_in, &n_out, &frames, &rate);
    bad_buffers(d, n_in, n_out, frames);
    run(d, frames, 1);
    run(d, frames, 0);
    dispose_while_running(d, frames);
    check("release", d->m->Release(d) == 0, NULL);
    CoUninitialize();
    finish();
    return 0;
}
