/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * pahost.c: a minimal ASIO host for the tests, run under Wine.  It drives
 * the driver through PortAudio's ASIO-enabled Windows DLL (loaded at run
 * time, so no import library or header is needed) the way real
 * applications do: enumerate, open a duplex stream, run it, close it.
 *
 *   pahost.exe PORTAUDIO.DLL list
 *   pahost.exe PORTAUDIO.DLL stream --device NAME [--frames N] [--seconds S]
 *                                   [--channels C] [--interleaved] [--no-dither]
 *   pahost.exe PORTAUDIO.DLL cycles --device NAME [--count K] [--frames N]
 *
 * Output is one JSON object per line, flushed at once; the last line is the
 * result.  The process ends through TerminateProcess so its exit code
 * survives whatever the unloaded driver left behind (seen under Wine: a
 * plain return can reach the shell as 0).
 */
#include <windows.h>
#include <tlhelp32.h>

#include "jsonline.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- the PortAudio API, declared from its documented values ------------- */

typedef int PaError;
typedef int PaDeviceIndex;
typedef int PaHostApiIndex;
typedef double PaTime;
typedef unsigned long PaSampleFormat; /* 32 bits on Windows */
typedef unsigned long PaStreamFlags;
typedef unsigned long PaStreamCallbackFlags;
typedef void PaStream;

#define paNoError 0
#define paFloat32 ((PaSampleFormat)0x00000001)
#define paNonInterleaved ((PaSampleFormat)0x80000000)
#define paNoFlag ((PaStreamFlags)0)
#define paClipOff ((PaStreamFlags)0x00000001)
#define paDitherOff ((PaStreamFlags)0x00000002)
#define paContinue 0
#define paFramesPerBufferUnspecified 0UL
#define PA_HOST_API_ASIO 3 /* PaHostApiTypeId paASIO */

typedef struct PaHostApiInfo {
    int structVersion;
    int type; /* PaHostApiTypeId */
    const char *name;
    int deviceCount;
    PaDeviceIndex defaultInputDevice;
    PaDeviceIndex defaultOutputDevice;
} PaHostApiInfo;

typedef struct PaDeviceInfo {
    int structVersion;
    const char *name;
    PaHostApiIndex hostApi;
    int maxInputChannels;
    int maxOutputChannels;
    PaTime defaultLowInputLatency;
    PaTime defaultLowOutputLatency;
    PaTime defaultHighInputLatency;
    PaTime defaultHighOutputLatency;
    double defaultSampleRate;
} PaDeviceInfo;

typedef struct PaStreamParameters {
    PaDeviceIndex device;
    int channelCount;
    PaSampleFormat sampleFormat;
    PaTime suggestedLatency;
    void *hostApiSpecificStreamInfo;
} PaStreamParameters;

typedef struct PaStreamCallbackTimeInfo {
    PaTime inputBufferAdcTime;
    PaTime currentTime;
    PaTime outputBufferDacTime;
} PaStreamCallbackTimeInfo;

typedef struct PaHostErrorInfo {
    int hostApiType;
    long errorCode;
    const char *errorText;
} PaHostErrorInfo;

typedef struct PaStreamInfo {
    int structVersion;
    PaTime inputLatency;
    PaTime outputLatency;
    double sampleRate;
} PaStreamInfo;

typedef int PaStreamCallback(const void *input, void *output, unsigned long frames,
                             const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags,
                             void *user);

static struct {
    PaError (*Initialize)(void);
    PaError (*Terminate)(void);
    const char *(*GetErrorText)(PaError);
    const PaHostErrorInfo *(*GetLastHostErrorInfo)(void);
    const char *(*GetVersionText)(void);
    PaDeviceIndex (*GetDeviceCount)(void);
    const PaDeviceInfo *(*GetDeviceInfo)(PaDeviceIndex);
    const PaHostApiInfo *(*GetHostApiInfo)(PaHostApiIndex);
    PaHostApiIndex (*GetHostApiCount)(void);
    PaError (*OpenStream)(PaStream **, const PaStreamParameters *, const PaStreamParameters *,
                          double, unsigned long, PaStreamFlags, PaStreamCallback *, void *);
    PaError (*StartStream)(PaStream *);
    PaError (*StopStream)(PaStream *);
    PaError (*CloseStream)(PaStream *);
    const PaStreamInfo *(*GetStreamInfo)(PaStream *);
} pa;

/* --- output ------------------------------------------------------------- */

static void finish(int code)
{
    fflush(stdout);
    fflush(stderr);
    TerminateProcess(GetCurrentProcess(), (UINT)code);
    ExitProcess((UINT)code); /* not reached */
}

static void pa_failed(const char *where, PaError err)
{
    const PaHostErrorInfo *host = pa.GetLastHostErrorInfo ? pa.GetLastHostErrorInfo() : NULL;
    emit("\"event\": \"error\", \"where\": %S, \"code\": %d, \"text\": %S, "
         "\"host_code\": %ld, \"host_text\": %S",
         where, err, pa.GetErrorText(err), host ? host->errorCode : 0L,
         host && host->errorText ? host->errorText : "");
}

/* --- loading ------------------------------------------------------------ */

static int load_portaudio(const char *path)
{
    HMODULE dll = LoadLibraryA(path);
    if (!dll) {
        emit("\"result\": \"fail\", \"error\": \"cannot load PortAudio\", \"path\": %S, "
             "\"win32_error\": %lu",
             path, (unsigned long)GetLastError());
        return -1;
    }
/* Through void (*)(void): the one function pointer type GCC lets any
 * other be cast to and from without -Wcast-function-type. */
#define RESOLVE(field, name)                                                        \
    do {                                                                            \
        pa.field = (__typeof__(pa.field))(void (*)(void))GetProcAddress(dll, name); \
        if (!pa.field) {                                                            \
            emit("\"result\": \"fail\", \"error\": \"missing export\", \"name\": %S", \
                 name);                                                             \
            return -1;                                                              \
        }                                                                           \
    } while (0)
    RESOLVE(Initialize, "Pa_Initialize");
    RESOLVE(Terminate, "Pa_Terminate");
    RESOLVE(GetErrorText, "Pa_GetErrorText");
    RESOLVE(GetLastHostErrorInfo, "Pa_GetLastHostErrorInfo");
    RESOLVE(GetVersionText, "Pa_GetVersionText");
    RESOLVE(GetDeviceCount, "Pa_GetDeviceCount");
    RESOLVE(GetDeviceInfo, "Pa_GetDeviceInfo");
    RESOLVE(GetHostApiInfo, "Pa_GetHostApiInfo");
    RESOLVE(GetHostApiCount, "Pa_GetHostApiCount");
    RESOLVE(OpenStream, "Pa_OpenStream");
    RESOLVE(StartStream, "Pa_StartStream");
    RESOLVE(StopStream, "Pa_StopStream");
    RESOLVE(CloseStream, "Pa_CloseStream");
    RESOLVE(GetStreamInfo, "Pa_GetStreamInfo");
#undef RESOLVE
    return 0;
}

/* --- options ------------------------------------------------------------ */

struct options {
    const char *device;
    unsigned long frames;
    double seconds;
    int channels;
    int count;
    int interleaved;
    int no_dither;
};

static int parse_options(int argc, char **argv, struct options *o)
{
    o->device = NULL;
    o->frames = paFramesPerBufferUnspecified;
    o->seconds = 2.0;
    o->channels = 2;
    o->count = 5;
    o->interleaved = 0;
    o->no_dither = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--interleaved")) {
            o->interleaved = 1;
            continue;
        }
        if (!strcmp(a, "--no-dither")) {
            /* PortAudio converts to the driver's integers exactly as
             * written, so the tests can predict every sample. */
            o->no_dither = 1;
            continue;
        }
        if (!v)
            return -1;
        if (!strcmp(a, "--device"))
            o->device = v;
        else if (!strcmp(a, "--frames"))
            o->frames = strtoul(v, NULL, 10);
        else if (!strcmp(a, "--seconds"))
            o->seconds = atof(v);
        else if (!strcmp(a, "--channels"))
            o->channels = atoi(v);
        else if (!strcmp(a, "--count"))
            o->count = atoi(v);
        else
            return -1;
        i++;
    }
    return 0;
}

static const char *host_api_name(const PaDeviceInfo *d)
{
    const PaHostApiInfo *h = pa.GetHostApiInfo(d->hostApi);
    return h && h->name ? h->name : "?";
}

/* An ASIO device by exact name, else the first ASIO device containing it. */
static PaDeviceIndex find_device(const char *name)
{
    PaDeviceIndex n = pa.GetDeviceCount(), partial = -1;
    for (PaDeviceIndex i = 0; i < n; i++) {
        const PaDeviceInfo *d = pa.GetDeviceInfo(i);
        const PaHostApiInfo *h = d ? pa.GetHostApiInfo(d->hostApi) : NULL;
        if (!d || !d->name || !h || h->type != PA_HOST_API_ASIO)
            continue;
        if (!strcmp(d->name, name))
            return i;
        if (partial < 0 && strstr(d->name, name))
            partial = i;
    }
    return partial;
}

/* --- modes -------------------------------------------------------------- */

static int mode_list(void)
{
    PaHostApiIndex apis = pa.GetHostApiCount();
    for (PaHostApiIndex i = 0; i < apis; i++) {
        const PaHostApiInfo *h = pa.GetHostApiInfo(i);
        if (h)
            emit("\"event\": \"host_api\", \"index\": %d, \"name\": %S, \"type\": %d, "
                 "\"devices\": %d",
                 i, h->name ? h->name : "", h->type, h->deviceCount);
    }
    PaDeviceIndex n = pa.GetDeviceCount();
    if (n < 0) {
        pa_failed("Pa_GetDeviceCount", n);
        return 1;
    }
    for (PaDeviceIndex i = 0; i < n; i++) {
        const PaDeviceInfo *d = pa.GetDeviceInfo(i);
        if (!d)
            continue;
        const PaHostApiInfo *h = pa.GetHostApiInfo(d->hostApi);
        emit("\"event\": \"device\", \"index\": %d, \"host_api\": %S, \"asio\": %s, "
             "\"name\": %S, \"max_input_channels\": %d, \"max_output_channels\": %d, "
             "\"default_sample_rate\": %g",
             i, host_api_name(d), h && h->type == PA_HOST_API_ASIO ? "true" : "false",
             d->name ? d->name : "", d->maxInputChannels, d->maxOutputChannels,
             d->defaultSampleRate);
    }
    emit("\"result\": \"ok\", \"mode\": \"list\", \"devices\": %d", n);
    return 0;
}

/* What the callback saw; written by PortAudio's (the driver's) thread,
 * read by the main thread after the stream stopped. */
struct tally {
    int channels;
    int interleaved;
    volatile LONG callbacks;
    volatile LONG64 frames;
    volatile unsigned long min_frames, max_frames;
    volatile unsigned long status_flags;
};

static int copy_through(const void *input, void *output, unsigned long frames,
                        const PaStreamCallbackTimeInfo *time, PaStreamCallbackFlags flags,
                        void *user)
{
    struct tally *t = user;
    (void)time;
    if (t->interleaved) {
        size_t bytes = (size_t)frames * t->channels * sizeof(float);
        if (input)
            memcpy(output, input, bytes);
        else
            memset(output, 0, bytes);
    } else {
        const float *const *in = input;
        float *const *out = output;
        for (int c = 0; c < t->channels; c++) {
            if (in)
                memcpy(out[c], in[c], frames * sizeof(float));
            else
                memset(out[c], 0, frames * sizeof(float));
        }
    }
    if (!t->callbacks || frames < t->min_frames)
        t->min_frames = frames;
    if (frames > t->max_frames)
        t->max_frames = frames;
    t->status_flags |= flags;
    t->frames += frames;
    t->callbacks++;
    return paContinue;
}

/* Open a duplex Float32 stream on the device; NULL after printing why. */
static PaStream *open_duplex(PaDeviceIndex dev, const struct options *o, struct tally *t,
                             double *rate)
{
    const PaDeviceInfo *d = pa.GetDeviceInfo(dev);
    PaStreamParameters in, out;
    PaStream *s = NULL;
    int channels = o->channels;

    if (channels > d->maxInputChannels)
        channels = d->maxInputChannels;
    if (channels > d->maxOutputChannels)
        channels = d->maxOutputChannels;
    if (channels < 1) {
        emit("\"event\": \"error\", \"where\": \"open\", \"text\": \"device has no duplex channels\"");
        return NULL;
    }
    memset(t, 0, sizeof(*t));
    t->channels = channels;
    t->interleaved = o->interleaved;

    PaSampleFormat format = paFloat32 | (o->interleaved ? 0 : paNonInterleaved);
    in = (PaStreamParameters){dev, channels, format, d->defaultLowInputLatency, NULL};
    out = (PaStreamParameters){dev, channels, format, d->defaultLowOutputLatency, NULL};
    *rate = d->defaultSampleRate;
    PaStreamFlags flags = o->no_dither ? paClipOff | paDitherOff : paNoFlag;
    PaError err = pa.OpenStream(&s, &in, &out, *rate, o->frames, flags, copy_through, t);
    if (err != paNoError) {
        pa_failed("Pa_OpenStream", err);
        return NULL;
    }
    return s;
}

static int run_once(PaStream *s, DWORD ms)
{
    PaError err = pa.StartStream(s);
    if (err != paNoError) {
        pa_failed("Pa_StartStream", err);
        return -1;
    }
    /* PortAudio's own latency figures (seconds): for ASIO, the driver's
     * getLatencies plus what PortAudio's buffer adaptation adds. */
    const PaStreamInfo *info = pa.GetStreamInfo(s);
    emit("\"event\": \"started\", \"input_latency\": %g, \"output_latency\": %g, "
         "\"sample_rate\": %g",
         info ? info->inputLatency : -1.0, info ? info->outputLatency : -1.0,
         info ? info->sampleRate : 0.0);
    Sleep(ms);
    err = pa.StopStream(s);
    if (err != paNoError) {
        pa_failed("Pa_StopStream", err);
        return -1;
    }
    return 0;
}

static int mode_stream(const struct options *o)
{
    struct tally t;
    double rate;
    PaDeviceIndex dev = find_device(o->device);
    if (dev < 0) {
        emit("\"result\": \"fail\", \"mode\": \"stream\", \"error\": \"no such ASIO device\", "
             "\"device\": %S", o->device);
        return 1;
    }
    PaStream *s = open_duplex(dev, o, &t, &rate);
    if (!s) {
        emit("\"result\": \"fail\", \"mode\": \"stream\", \"error\": \"open failed\"");
        return 1;
    }
    int r = run_once(s, (DWORD)(o->seconds * 1000.0));
    PaError err = pa.CloseStream(s);
    if (err != paNoError) {
        pa_failed("Pa_CloseStream", err);
        r = -1;
    }
    /* The counters are final: the stream is closed. */
    long callbacks = t.callbacks;
    double frames = (double)t.frames;
    emit("\"result\": %S, \"mode\": \"stream\", \"device\": %S, \"channels\": %d, "
         "\"interleaved\": %s, \"sample_rate\": %g, \"seconds\": %g, \"callbacks\": %ld, "
         "\"frames\": %g, \"expected_frames\": %g, \"min_frames_per_buffer\": %lu, "
         "\"max_frames_per_buffer\": %lu, \"status_flags\": %lu",
         r == 0 && callbacks > 0 ? "ok" : "fail", pa.GetDeviceInfo(dev)->name, t.channels,
         o->interleaved ? "true" : "false", rate, o->seconds, callbacks, frames,
         rate * o->seconds, t.min_frames, t.max_frames, t.status_flags);
    return r == 0 && callbacks > 0 ? 0 : 1;
}

/* Threads of this process: a driver that leaks its callback thread shows
 * up as a count that grows from cycle to cycle. */
static int count_threads(void)
{
    THREADENTRY32 te = {.dwSize = sizeof(te)};
    DWORD self = GetCurrentProcessId();
    int n = 0;
    HANDLE snap = CreateToolhelp32Snapshot(TH32CS_SNAPTHREAD, 0);
    if (snap == INVALID_HANDLE_VALUE)
        return -1;
    for (BOOL more = Thread32First(snap, &te); more; more = Thread32Next(snap, &te))
        if (te.th32OwnerProcessID == self)
            n++;
    CloseHandle(snap);
    return n;
}

static int mode_cycles(const struct options *o)
{
    struct tally t;
    double rate;
    int failed = 0;
    PaDeviceIndex dev = find_device(o->device);
    if (dev < 0) {
        emit("\"result\": \"fail\", \"mode\": \"cycles\", \"error\": \"no such ASIO device\", "
             "\"device\": %S", o->device);
        return 1;
    }
    for (int i = 0; i < o->count; i++) {
        DWORD t0 = GetTickCount();
        PaStream *s = open_duplex(dev, o, &t, &rate);
        int r = s ? run_once(s, 300) : -1;
        if (s && pa.CloseStream(s) != paNoError)
            r = -1;
        long callbacks = t.callbacks;
        if (r || callbacks == 0)
            failed++;
        emit("\"event\": \"cycle\", \"index\": %d, \"ok\": %s, \"callbacks\": %ld, "
             "\"ms\": %lu, \"threads\": %d",
             i, r == 0 && callbacks > 0 ? "true" : "false", callbacks,
             (unsigned long)(GetTickCount() - t0), count_threads());
    }
    emit("\"result\": %S, \"mode\": \"cycles\", \"count\": %d, \"failed\": %d",
         failed ? "fail" : "ok", o->count, failed);
    return failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    struct options o;
    int code;

    if (argc < 3 || parse_options(argc - 3, argv + 3, &o) < 0 ||
        (strcmp(argv[2], "list") && !o.device)) {
        emit("\"result\": \"fail\", \"error\": \"usage: pahost.exe PORTAUDIO.DLL "
             "list|stream|cycles [--device NAME] [--frames N] [--seconds S] "
             "[--channels C] [--count K] [--interleaved] [--no-dither]\"");
        finish(2);
    }
    if (load_portaudio(argv[1]) < 0)
        finish(3);

    PaError err = pa.Initialize();
    if (err != paNoError) {
        pa_failed("Pa_Initialize", err);
        emit("\"result\": \"fail\", \"error\": \"Pa_Initialize failed\"");
        finish(4);
    }
    emit("\"event\": \"portaudio\", \"version\": %S", pa.GetVersionText());

    if (!strcmp(argv[2], "list"))
        code = mode_list();
    else if (!strcmp(argv[2], "stream"))
        code = mode_stream(&o);
    else if (!strcmp(argv[2], "cycles"))
        code = mode_cycles(&o);
    else {
        emit("\"result\": \"fail\", \"error\": \"unknown mode\", \"mode\": %S", argv[2]);
        code = 2;
    }
    pa.Terminate();
    finish(code);
    return code;
}
