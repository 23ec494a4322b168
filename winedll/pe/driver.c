/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * driver.c: the IASIO object.  Every method the host calls on its control
 * thread lives here; the audio path is in callback.c.
 *
 * The ASIO state machine is loaded -> initialised (init) -> prepared
 * (createBuffers) -> running (start), walked back by stop, disposeBuffers
 * and Release.  JACK owns the clock: the rate and the period are JACK's,
 * and the driver only accepts what it cannot change.
 *
 * Only the state changes take d->lock.  The queries read the segment and
 * fixed fields without it, because hosts call them from inside
 * bufferSwitch or asioMessage while another thread may hold the lock in
 * stop(), waiting for that very callback to return.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driver.h"

static const GUID iid_unknown = {
    0x00000000, 0x0000, 0x0000, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};

/* ------------------------------------------------------------------ helpers */

static void copy_text(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size - 1);
    memcpy(dst, src, n);
    dst[n] = 0;
}

static void set_error(struct asiojack_driver *d, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof(d->error), fmt, ap);
    va_end(ap);
}

/* Record why and hand the code back, so every failure has its words. */
static ASIOError fail(struct asiojack_driver *d, ASIOError code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(d->error, sizeof(d->error), fmt, ap);
    va_end(ap);
    return code;
}

/* The server updates these while we run: read each once, untorn. */
static uint32_t shm_u32(const uint32_t *field)
{
    return __atomic_load_n(field, __ATOMIC_RELAXED);
}

static ASIOError not_initialised(struct asiojack_driver *d)
{
    return fail(d, ASE_NotPresent, "asiojack is not initialised (init failed or was not called)");
}

static BOOL rate_is_jacks(struct asiojack_driver *d, double rate)
{
    double jack = (double)shm_u32(&d->shm->sample_rate);
    double diff = rate - jack;
    return diff < 0.01 && diff > -0.01;
}

static uint32_t asio_sample_type(uint32_t type)
{
    switch (type) {
    case ASIOJACK_SAMPLE_INT32: return ASIOSTInt32LSB;
    case ASIOJACK_SAMPLE_INT24: return ASIOSTInt24LSB;
    case ASIOJACK_SAMPLE_INT16: return ASIOSTInt16LSB;
    default: return ASIOSTFloat32LSB;
    }
}

/* The executable's file name in UTF-8, and the same without ".exe" for the
 * JACK client name. */
static void exe_names(char *exe, size_t exe_size, char *base, size_t base_size)
{
    WCHAR path[MAX_PATH];
    DWORD n = GetModuleFileNameW(NULL, path, MAX_PATH);
    const WCHAR *name = path;
    exe[0] = base[0] = 0;
    if (n == 0 || n >= MAX_PATH)
        return;
    for (const WCHAR *p = path; *p; p++)
        if (*p == L'\\' || *p == L'/')
            name = p + 1;
    if (!WideCharToMultiByte(CP_UTF8, 0, name, -1, exe, (int)exe_size, NULL, NULL))
        exe[0] = 0;
    copy_text(base, base_size, exe);
    char *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = 0;
}

/* Every request on the server socket goes through here: the socket
 * carries one request and its reply at a time. */
static NTSTATUS socket_call(struct asiojack_driver *d, enum asiojack_unix_func code, void *args)
{
    EnterCriticalSection(&d->io_lock);
    NTSTATUS st = asiojack_unix_call(code, args);
    LeaveCriticalSection(&d->io_lock);
    return st;
}

static void close_session(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    memset(&p, 0, sizeof(p));
    p.client = d->client;
    if (d->client)
        socket_call(d, ASIOJACK_UNIX_CLOSE, &p);
    d->client = 0;
    d->shm = NULL;
    d->state = STATE_LOADED;
}

/* A control call on the session; failures land in d->error. */
static BOOL session_call(struct asiojack_driver *d, enum asiojack_unix_func code,
                         struct asiojack_unix_control *ctl, const char *what)
{
    ctl->client = d->client;
    NTSTATUS st = socket_call(d, code, ctl);
    if (st) {
        set_error(d, "%s: unix call failed (status %#lx)", what, (unsigned long)st);
        return FALSE;
    }
    if (ctl->status) {
        ctl->error[sizeof(ctl->error) - 1] = 0;
        set_error(d, "%s: %s", what, ctl->error);
        return FALSE;
    }
    return TRUE;
}

static void do_stop(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    memset(&p, 0, sizeof(p));
    /* The engine stops publishing first, then the thread is joined: after
     * this, no bufferSwitch can arrive. */
    session_call(d, ASIOJACK_UNIX_STOP, &p, "stop");
    asiojack_thread_stop(d);
    d->state = STATE_PREPARED;
}

static void do_dispose(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    memset(&p, 0, sizeof(p));
    session_call(d, ASIOJACK_UNIX_DISPOSE_BUFFERS, &p, "disposeBuffers");
    memset(d->in_active, 0, sizeof(d->in_active));
    memset(d->out_active, 0, sizeof(d->out_active));
    memset(&d->callbacks, 0, sizeof(d->callbacks));
    d->state = STATE_INITIALIZED;
}

/* ----------------------------------------------------------------- IUnknown */

static HRESULT STDMETHODCALLTYPE driver_query_interface(struct asiojack_driver *d,
                                                        REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    /* Hosts pass the driver's CLSID as the interface id: IASIO has none. */
    if (riid && (!memcmp(riid, &iid_unknown, sizeof(GUID)) ||
                 !memcmp(riid, &asiojack_clsid, sizeof(GUID)))) {
        InterlockedIncrement(&d->refs);
        *out = d;
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

static ULONG STDMETHODCALLTYPE driver_add_ref(struct asiojack_driver *d)
{
    return (ULONG)InterlockedIncrement(&d->refs);
}

static ULONG STDMETHODCALLTYPE driver_release(struct asiojack_driver *d)
{
    LONG refs = InterlockedDecrement(&d->refs);
    if (refs)
        return (ULONG)refs;
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_RUNNING)
        do_stop(d);
    if (d->state == STATE_PREPARED)
        do_dispose(d);
    close_session(d);
    asiojack_thread_stop(d); /* joins a thread that stopped itself */
    LeaveCriticalSection(&d->lock);
    DeleteCriticalSection(&d->lock);
    DeleteCriticalSection(&d->io_lock);
    HeapFree(GetProcessHeap(), 0, d);
    asiojack_module_unref();
    return 0;
}

/* -------------------------------------------------------------- IASIO: setup */

/* Open a session on the server and map its segment; d->lock held. */
static BOOL open_session(struct asiojack_driver *d)
{
    struct asiojack_unix_open_params p;
    const char *missing = asiojack_unix_missing();
    if (missing) {
        copy_text(d->error, sizeof(d->error), missing);
        return FALSE;
    }
    memset(&p, 0, sizeof(p));
    p.bits = (uint32_t)sizeof(void *) * 8;
    p.autostart = 1;
    exe_names(p.exe_name, sizeof(p.exe_name), p.client_name, sizeof(p.client_name));

    NTSTATUS st = asiojack_unix_call(ASIOJACK_UNIX_OPEN, &p);
    if (st || p.ctl.status || !p.ctl.client || !p.shm) {
        if (st)
            set_error(d, "asiojack unix library failed (status %#lx)", (unsigned long)st);
        else {
            p.ctl.error[sizeof(p.ctl.error) - 1] = 0;
            copy_text(d->error, sizeof(d->error), p.ctl.error);
        }
        return FALSE;
    }
    d->client = p.ctl.client;
    d->shm = (const struct asiojack_shm *)(uintptr_t)p.shm;
    d->state = STATE_INITIALIZED;
    InterlockedExchange(&d->jack_gone, 0);
    InterlockedExchange(&d->config_changed, 0);
    d->error[0] = 0;
    return TRUE;
}

static ASIOBool ASIO_METHOD driver_init(struct asiojack_driver *d, void *sys_handle)
{
    (void)sys_handle; /* a window handle: nothing to show it in */
    EnterCriticalSection(&d->lock);
    BOOL ok = d->state != STATE_LOADED || open_session(d);
    LeaveCriticalSection(&d->lock);
    return ok ? ASIOTrue : ASIOFalse;
}

static void ASIO_METHOD driver_get_driver_name(struct asiojack_driver *d, char *name)
{
    (void)d;
    if (name)
        copy_text(name, ASIO_DRIVER_NAME_LEN, ASIOJACK_DRIVER_NAME);
}

static LONG ASIO_METHOD driver_get_driver_version(struct asiojack_driver *d)
{
    (void)d;
    return ASIOJACK_DRIVER_VERSION;
}

static void ASIO_METHOD driver_get_error_message(struct asiojack_driver *d, char *text)
{
    if (!text)
        return;
    copy_text(text, ASIO_ERROR_TEXT_LEN, d->error);
}

/* ------------------------------------------------------------- IASIO: query */

static ASIOError ASIO_METHOD driver_get_channels(struct asiojack_driver *d, LONG *inputs,
                                                 LONG *outputs)
{
    ASIOError r = ASE_OK;
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (!inputs && !outputs)
        r = fail(d, ASE_InvalidParameter, "getChannels: no place for the result");
    else {
        if (inputs)
            *inputs = (LONG)d->shm->n_inputs;
        if (outputs)
            *outputs = (LONG)d->shm->n_outputs;
    }
    return r;
}

static ASIOError ASIO_METHOD driver_get_latencies(struct asiojack_driver *d, LONG *input,
                                                  LONG *output)
{
    ASIOError r = ASE_OK;
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (!input && !output)
        r = fail(d, ASE_InvalidParameter, "getLatencies: no place for the result");
    else {
        /* ASIO counts the host's own buffer in the latency; JACK's port
         * latencies do not. */
        uint32_t frames = shm_u32(&d->shm->jack_buffer_frames);
        if (input)
            *input = (LONG)(shm_u32(&d->shm->input_latency) + frames);
        if (output)
            *output = (LONG)(shm_u32(&d->shm->output_latency) + frames);
    }
    return r;
}

static ASIOError ASIO_METHOD driver_get_buffer_size(struct asiojack_driver *d, LONG *min_size,
                                                    LONG *max_size, LONG *preferred,
                                                    LONG *granularity)
{
    ASIOError r = ASE_OK;
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (!min_size && !max_size && !preferred && !granularity)
        r = fail(d, ASE_InvalidParameter, "getBufferSize: no place for the result");
    else {
        LONG frames = (LONG)shm_u32(&d->shm->jack_buffer_frames);
        BOOL host_mode = shm_u32(&d->shm->buffer_mode) == ASIOJACK_BUFFER_HOST;
        /* JACK mode: one size only, JACK's period.  Host mode: the powers
         * of two the server allows (granularity -1 says "powers of two"),
         * JACK's current period preferred, so a host that takes the
         * default changes nothing for the other JACK clients. */
        if (min_size)
            *min_size = host_mode ? (LONG)shm_u32(&d->shm->min_host_frames) : frames;
        if (max_size)
            *max_size = host_mode ? (LONG)shm_u32(&d->shm->max_host_frames) : frames;
        if (preferred)
            *preferred = frames;
        if (granularity)
            *granularity = host_mode ? -1 : 0;
    }
    return r;
}

static ASIOError ASIO_METHOD driver_can_sample_rate(struct asiojack_driver *d,
                                                    ASIOSampleRate rate)
{
    ASIOError r = ASE_OK;
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (!__builtin_isfinite(rate))
        r = fail(d, ASE_InvalidParameter, "canSampleRate: the rate is not a number");
    else if (rate <= 0.0 || !rate_is_jacks(d, rate))
        r = fail(d, ASE_NoClock, "JACK runs at %u Hz; asiojack cannot change that",
                 (unsigned)shm_u32(&d->shm->sample_rate));
    return r;
}

static ASIOError ASIO_METHOD driver_get_sample_rate(struct asiojack_driver *d,
                                                    ASIOSampleRate *rate)
{
    ASIOError r = ASE_OK;
    if (!rate)
        r = fail(d, ASE_InvalidParameter, "getSampleRate: no place for the result");
    else if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else
        *rate = (ASIOSampleRate)shm_u32(&d->shm->sample_rate);
    return r;
}

static ASIOError ASIO_METHOD driver_set_sample_rate(struct asiojack_driver *d,
                                                    ASIOSampleRate rate)
{
    ASIOError r = ASE_OK;
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (!__builtin_isfinite(rate))
        r = fail(d, ASE_InvalidParameter, "setSampleRate: the rate is not a number");
    else if (rate == 0.0)
        r = ASE_OK; /* "use the external clock": JACK is exactly that */
    else if (rate < 0.0 || !rate_is_jacks(d, rate))
        r = fail(d, ASE_NoClock, "JACK runs at %u Hz; asiojack cannot switch to %.0f Hz",
                 (unsigned)shm_u32(&d->shm->sample_rate), rate);
    return r;
}

static ASIOError ASIO_METHOD driver_get_clock_sources(struct asiojack_driver *d,
                                                      ASIOClockSource *clocks, LONG *count)
{
    if (!clocks || !count) {
        ASIOError r = fail(d, ASE_InvalidParameter, "getClockSources: no place for the result");
        return r;
    }
    /* A count of 0 means the host has no room: say how many there are. */
    if (*count > 0) {
        memset(clocks, 0, sizeof(*clocks));
        clocks->index = 0;
        clocks->associatedChannel = -1;
        clocks->associatedGroup = -1;
        clocks->isCurrentSource = ASIOTrue;
        copy_text(clocks->name, sizeof(clocks->name), "JACK");
    }
    *count = 1;
    return ASE_OK;
}

static ASIOError ASIO_METHOD driver_set_clock_source(struct asiojack_driver *d, LONG index)
{
    if (index == 0)
        return ASE_OK;
    ASIOError r = fail(d, ASE_InvalidParameter, "clock source %ld does not exist: JACK is the only one",
                       (long)index);
    return r;
}

static ASIOError ASIO_METHOD driver_get_sample_position(struct asiojack_driver *d,
                                                        ASIOSamples *position,
                                                        ASIOTimeStamp *stamp)
{
    struct asiojack_unix_position_params p;
    /* No lock: hosts call this from inside bufferSwitch, and the state is
     * only left RUNNING after the callback thread is joined. */
    if (!position || !stamp) {
        set_error(d, "getSamplePosition: no place for the result");
        return ASE_InvalidParameter;
    }
    if (d->state != STATE_RUNNING)
        return ASE_SPNotAdvancing;
    memset(&p, 0, sizeof(p));
    p.client = d->client;
    if (asiojack_unix_call(ASIOJACK_UNIX_POSITION, &p) || !p.valid)
        return ASE_SPNotAdvancing;
    asiojack_split64(p.sample_position, &position->hi, &position->lo);
    asiojack_split64(asiojack_host_time_ns() - p.age_ns, &stamp->hi, &stamp->lo);
    return ASE_OK;
}

static ASIOError ASIO_METHOD driver_get_channel_info(struct asiojack_driver *d,
                                                     ASIOChannelInfo *info)
{
    ASIOError r = ASE_OK;
    if (!info)
        r = fail(d, ASE_InvalidParameter, "getChannelInfo: no place for the result");
    else if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else {
        BOOL input = info->isInput != ASIOFalse;
        uint32_t n = input ? d->shm->n_inputs : d->shm->n_outputs;
        if (info->channel < 0 || (uint32_t)info->channel >= n)
            r = fail(d, ASE_InvalidParameter, "no %s channel %ld (there are %u)",
                     input ? "input" : "output", (long)info->channel, (unsigned)n);
        else {
            uint32_t ch = (uint32_t)info->channel;
            const char *name = input ? d->shm->in_names[ch] : d->shm->out_names[ch];
            char safe[ASIOJACK_NAME_LEN];
            /* The segment is shared: never trust its terminator. */
            memcpy(safe, name, sizeof(safe));
            safe[sizeof(safe) - 1] = 0;
            info->isActive = (input ? d->in_active[ch] : d->out_active[ch]) ? ASIOTrue : ASIOFalse;
            info->channelGroup = 0;
            info->type = (ASIOSampleType)asio_sample_type(d->shm->sample_type);
            copy_text(info->name, sizeof(info->name), safe);
        }
    }
    return r;
}

/* ----------------------------------------------------------- IASIO: buffers */

static void *channel_buffer(struct asiojack_driver *d, BOOL input, uint32_t half, uint32_t ch)
{
    struct asiojack_unix_buffer_params p;
    memset(&p, 0, sizeof(p));
    p.client = d->client;
    p.is_input = input ? 1 : 0;
    p.half = half;
    p.channel = ch;
    if (asiojack_unix_call(ASIOJACK_UNIX_BUFFER, &p))
        return NULL;
    return (void *)(uintptr_t)p.address;
}

static ASIOError check_buffer_request(struct asiojack_driver *d, const ASIOBufferInfo *infos,
                                      LONG count, LONG frames, const ASIOCallbacks *callbacks,
                                      uint8_t *in_active, uint8_t *out_active)
{
    uint32_t n_in = d->shm->n_inputs, n_out = d->shm->n_outputs;
    uint32_t jack_frames = shm_u32(&d->shm->jack_buffer_frames);

    if (!infos || !callbacks)
        return fail(d, ASE_InvalidParameter, "createBuffers: missing buffer infos or callbacks");
    if (!callbacks->bufferSwitch && !callbacks->bufferSwitchTimeInfo)
        return fail(d, ASE_InvalidParameter, "createBuffers: the host gave no bufferSwitch");
    if (count <= 0 || (uint32_t)count > n_in + n_out)
        return fail(d, ASE_InvalidParameter, "createBuffers: %ld channels asked, %u exist",
                    (long)count, (unsigned)(n_in + n_out));
    if (shm_u32(&d->shm->buffer_mode) == ASIOJACK_BUFFER_HOST) {
        /* The server sets JACK's period to it, and answers once JACK runs so. */
        uint32_t lo = shm_u32(&d->shm->min_host_frames), hi = shm_u32(&d->shm->max_host_frames);
        if (frames <= 0 || (frames & (frames - 1)) || (uint32_t)frames < lo ||
            (uint32_t)frames > hi || (uint32_t)frames > d->shm->max_frames)
            return fail(d, ASE_InvalidParameter,
                        "buffer size %ld refused: asiojack takes powers of two from %u to %u",
                        (long)frames, (unsigned)lo, (unsigned)hi);
    } else if (frames <= 0 || (uint32_t)frames != jack_frames ||
               (uint32_t)frames > d->shm->max_frames) {
        return fail(d, ASE_InvalidParameter,
                    "buffer size %ld refused: JACK runs %u frames per period "
                    "(buffer_size = \"host\" in asiojack's config lets hosts choose)",
                    (long)frames, (unsigned)jack_frames);
    }
    for (LONG i = 0; i < count; i++) {
        BOOL input = infos[i].isInput != ASIOFalse;
        LONG ch = infos[i].channelNum;
        uint8_t *active = input ? in_active : out_active;
        if (ch < 0 || (uint32_t)ch >= (input ? n_in : n_out))
            return fail(d, ASE_InvalidParameter, "createBuffers: no %s channel %ld",
                        input ? "input" : "output", (long)ch);
        if (active[ch])
            return fail(d, ASE_InvalidParameter, "createBuffers: %s channel %ld asked twice",
                        input ? "input" : "output", (long)ch);
        active[ch] = 1;
    }
    return ASE_OK;
}

static ASIOError ASIO_METHOD driver_create_buffers(struct asiojack_driver *d,
                                                   ASIOBufferInfo *infos, LONG count,
                                                   LONG frames, ASIOCallbacks *callbacks)
{
    struct asiojack_unix_create_params p;
    ASIOError r;

    EnterCriticalSection(&d->lock);
    if (d->state == STATE_LOADED) {
        r = not_initialised(d);
        goto out;
    }
    if (d->state != STATE_INITIALIZED) {
        r = fail(d, ASE_InvalidMode, "createBuffers: buffers exist already (disposeBuffers first)");
        goto out;
    }
    memset(&p, 0, sizeof(p));
    r = check_buffer_request(d, infos, count, frames, callbacks, p.in_active, p.out_active);
    if (r != ASE_OK)
        goto out;

    /* Everything that can fail comes before the host's infos are touched. */
    for (LONG i = 0; i < count; i++) {
        BOOL input = infos[i].isInput != ASIOFalse;
        for (uint32_t half = 0; half < 2; half++) {
            if (!channel_buffer(d, input, half, (uint32_t)infos[i].channelNum)) {
                r = fail(d, ASE_HWMalfunction, "createBuffers: channel %ld has no buffer",
                         (long)infos[i].channelNum);
                goto out;
            }
        }
    }
    p.frames = (uint32_t)frames;
    if (!session_call(d, ASIOJACK_UNIX_CREATE_BUFFERS, &p.ctl, "createBuffers")) {
        r = ASE_HWMalfunction;
        goto out;
    }

    /* The host's pointers go straight into the shared segment: no copy. */
    for (LONG i = 0; i < count; i++) {
        BOOL input = infos[i].isInput != ASIOFalse;
        for (uint32_t half = 0; half < 2; half++) {
            void *b = channel_buffer(d, input, half, (uint32_t)infos[i].channelNum);
            infos[i].buffers[half] = b;
            /* Stale output from an earlier run must not be played. */
            if (!input)
                memset(b, 0, (size_t)frames * d->shm->bytes_per_sample);
        }
    }
    memcpy(d->in_active, p.in_active, sizeof(d->in_active));
    memcpy(d->out_active, p.out_active, sizeof(d->out_active));
    d->callbacks = *callbacks;
    d->frames = (uint32_t)frames;
    d->state = STATE_PREPARED;

    r = ASE_OK;
out:
    LeaveCriticalSection(&d->lock);
    return r;
}

static ASIOError ASIO_METHOD driver_dispose_buffers(struct asiojack_driver *d)
{
    ASIOError r = ASE_OK;
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (d->state == STATE_INITIALIZED)
        r = fail(d, ASE_InvalidMode, "disposeBuffers: no buffers were created");
    else {
        if (d->state == STATE_RUNNING)
            do_stop(d);
        do_dispose(d);
        /* The server's configuration changed (channels, sample type, buffer
         * mode) and it asked for a reset: the session it opened for us has
         * the old settings.  Hosts that answer the reset by re-creating
         * their buffers, without re-opening the driver, get a fresh session
         * with the new settings here. */
        if (InterlockedCompareExchange(&d->config_changed, 0, 0)) {
            close_session(d);
            if (!open_session(d))
                r = ASE_HWMalfunction;
        }
    }
    LeaveCriticalSection(&d->lock);
    return r;
}

/* ------------------------------------------------------------ IASIO: run */

static ASIOError ASIO_METHOD driver_start(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    ASIOError r = ASE_OK;
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (d->state == STATE_INITIALIZED)
        r = fail(d, ASE_InvalidMode, "start: createBuffers first");
    else if (d->state == STATE_PREPARED) {
        memset(&p, 0, sizeof(p));
        if (!session_call(d, ASIOJACK_UNIX_START, &p, "start"))
            r = ASE_HWMalfunction;
        else if (!asiojack_thread_start(d)) {
            set_error(d, "start: cannot create the callback thread (error %lu)",
                      (unsigned long)GetLastError());
            memset(&p, 0, sizeof(p));
            session_call(d, ASIOJACK_UNIX_STOP, &p, "stop");
            r = ASE_HWMalfunction;
        } else
            d->state = STATE_RUNNING;
    }
    LeaveCriticalSection(&d->lock);
    return r;
}

static ASIOError ASIO_METHOD driver_stop(struct asiojack_driver *d)
{
    ASIOError r = ASE_OK;
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_LOADED)
        r = not_initialised(d);
    else if (d->state == STATE_RUNNING)
        do_stop(d);
    LeaveCriticalSection(&d->lock);
    return r;
}

static ASIOError ASIO_METHOD driver_control_panel(struct asiojack_driver *d)
{
    struct asiojack_unix_panel_params p;
    memset(&p, 0, sizeof(p));
    /* The window is a Linux program started detached: nothing here waits
     * for it, so the host's GUI thread is back at once. */
    NTSTATUS st = asiojack_unix_call(ASIOJACK_UNIX_CONTROL_PANEL, &p);
    if (st) {
        const char *missing = asiojack_unix_missing();
        return fail(d, ASE_NotPresent, "%s",
                    missing ? missing : "controlPanel: the unix library failed");
    }
    p.error[sizeof(p.error) - 1] = 0;
    if (p.status != ASIOJACK_PANEL_STARTED)
        return fail(d, ASE_NotPresent, "%s", p.error);
    return ASE_OK;
}

/* future(kAsioSetInputMonitor): the engine mixes the JACK input into the
 * JACK output inside the cycle, whether the host streams or not. */
static ASIOError set_input_monitor(struct asiojack_driver *d, const ASIOInputMonitor *m)
{
    struct asiojack_unix_monitor_params p;
    if (!m)
        return fail(d, ASE_InvalidParameter, "kAsioSetInputMonitor: no ASIOInputMonitor given");
    if (d->state == STATE_LOADED)
        return not_initialised(d);
    uint32_t n_in = d->shm->n_inputs, n_out = d->shm->n_outputs;
    if (m->input < -1 || (m->input >= 0 && (uint32_t)m->input >= n_in))
        return fail(d, ASE_InvalidParameter, "input monitor: no input channel %ld (there are %u)",
                    (long)m->input, (unsigned)n_in);
    if (m->state != ASIOFalse && (m->output < 0 || (uint32_t)m->output >= n_out))
        return fail(d, ASE_InvalidParameter,
                    "input monitor: no output channel %ld (there are %u)", (long)m->output,
                    (unsigned)n_out);
    if (m->gain < 0)
        return fail(d, ASE_InvalidParameter, "input monitor: gain %ld is negative",
                    (long)m->gain);
    memset(&p, 0, sizeof(p));
    p.ctl.client = d->client;
    p.input = m->input;
    p.output = m->output;
    p.gain = m->gain;
    p.pan = m->pan;
    p.on = m->state != ASIOFalse;
    NTSTATUS st = socket_call(d, ASIOJACK_UNIX_SET_MONITOR, &p);
    if (st)
        return fail(d, ASE_HWMalfunction, "input monitor: unix call failed (status %#lx)",
                    (unsigned long)st);
    if (p.ctl.status) {
        p.ctl.error[sizeof(p.ctl.error) - 1] = 0;
        return fail(d, p.ctl.status == ASIOJACK_UNIX_REFUSED ? ASE_InvalidParameter
                                                               : ASE_HWMalfunction,
                    "input monitor: %s", p.ctl.error);
    }
    return ASE_SUCCESS;
}

/* future(kAsioTransport): JACK's transport is the device's transport. */
static ASIOError transport(struct asiojack_driver *d, const ASIOTransportParameters *t)
{
    struct asiojack_unix_transport_params p;
    if (!t)
        return fail(d, ASE_InvalidParameter, "kAsioTransport: no ASIOTransportParameters given");
    if (d->state == STATE_LOADED)
        return not_initialised(d);
    memset(&p, 0, sizeof(p));
    switch (t->command) {
    case kTransportStart: p.command = ASIOJACK_TRANSPORT_START; break;
    case kTransportStop: p.command = ASIOJACK_TRANSPORT_STOP; break;
    case kTransportLocate:
        p.command = ASIOJACK_TRANSPORT_LOCATE;
        p.frame = ((uint64_t)t->samplePosition.hi << 32) | t->samplePosition.lo;
        break;
    default:
        return fail(d, ASE_InvalidParameter,
                    "transport command %ld: JACK only starts, stops and locates",
                    (long)t->command);
    }
    p.ctl.client = d->client;
    NTSTATUS st = socket_call(d, ASIOJACK_UNIX_TRANSPORT, &p);
    if (st)
        return fail(d, ASE_HWMalfunction, "transport: unix call failed (status %#lx)",
                    (unsigned long)st);
    if (p.ctl.status) {
        p.ctl.error[sizeof(p.ctl.error) - 1] = 0;
        return fail(d, ASE_HWMalfunction, "transport: %s", p.ctl.error);
    }
    return ASE_SUCCESS;
}

static ASIOError ASIO_METHOD driver_future(struct asiojack_driver *d, LONG selector, void *opt)
{
    switch (selector) {
    case kAsioCanTimeInfo:
    case kAsioCanTimeCode:
    case kAsioCanInputMonitor:
    case kAsioCanTransport:
        return ASE_SUCCESS;
    case kAsioSetInputMonitor:
        return set_input_monitor(d, opt);
    case kAsioTransport:
        return transport(d, opt);
    case kAsioEnableTimeCodeRead:
        d->time_code = TRUE;
        return ASE_SUCCESS;
    case kAsioDisableTimeCodeRead:
        d->time_code = FALSE;
        return ASE_SUCCESS;
    default:
        /* Not an error worth a message: hosts probe many selectors. */
        return ASE_InvalidParameter;
    }
}

static ASIOError ASIO_METHOD driver_output_ready(struct asiojack_driver *d)
{
    /* The engine plays a cycle's outputs as soon as bufferSwitch returns,
     * in the very cycle of its inputs: outputReady could not lower the
     * latency.  ASE_NotPresent tells the host so, in every state, and
     * keeps hosts from finishing their buffers after bufferSwitch returned
     * (they would be too late). */
    return fail(d, ASE_NotPresent,
                "outputReady is not needed: asiojack plays the outputs when bufferSwitch returns");
}

/* ------------------------------------------------------------- construction */

static const struct iasio_vtbl driver_vtbl = {
    driver_query_interface,
    driver_add_ref,
    driver_release,
    driver_init,
    driver_get_driver_name,
    driver_get_driver_version,
    driver_get_error_message,
    driver_start,
    driver_stop,
    driver_get_channels,
    driver_get_latencies,
    driver_get_buffer_size,
    driver_can_sample_rate,
    driver_get_sample_rate,
    driver_set_sample_rate,
    driver_get_clock_sources,
    driver_set_clock_source,
    driver_get_sample_position,
    driver_get_channel_info,
    driver_create_buffers,
    driver_dispose_buffers,
    driver_control_panel,
    driver_future,
    driver_output_ready,
};

HRESULT asiojack_driver_create(REFIID riid, void **out)
{
    struct asiojack_driver *d = HeapAlloc(GetProcessHeap(), HEAP_ZERO_MEMORY, sizeof(*d));
    if (!d)
        return E_OUTOFMEMORY;
    d->vtbl = &driver_vtbl;
    d->refs = 1;
    d->state = STATE_LOADED;
    InitializeCriticalSection(&d->lock);
    InitializeCriticalSection(&d->io_lock);
    asiojack_module_ref();
    HRESULT hr = driver_query_interface(d, riid, out);
    driver_release(d); /* the query's reference is the caller's */
    return hr;
}
