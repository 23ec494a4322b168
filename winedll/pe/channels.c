/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * channels.c: channels and buffers.  getChannels, getChannelInfo and
 * getBufferSize describe the session the server opened; createBuffers and
 * disposeBuffers hand the host pointers straight into the shared segment,
 * so nothing is copied on the Wine side.
 */
#include <string.h>

#include "driver.h"
#include "text.h"

static uint32_t asio_sample_type(uint32_t type)
{
    switch (type) {
    case ASIOJACK_SAMPLE_INT32: return ASIOSTInt32LSB;
    case ASIOJACK_SAMPLE_INT24: return ASIOSTInt24LSB;
    case ASIOJACK_SAMPLE_INT16: return ASIOSTInt16LSB;
    default: return ASIOSTFloat32LSB;
    }
}

static ASIOError get_channels(struct asiojack_driver *d, LONG *inputs, LONG *outputs)
{
    if (!inputs && !outputs)
        return asiojack_fail(d, ASE_InvalidParameter, "getChannels: no place for the result");
    if (inputs)
        *inputs = (LONG)d->layout.n_inputs;
    if (outputs)
        *outputs = (LONG)d->layout.n_outputs;
    return ASE_OK;
}

static ASIOError get_channel_info(struct asiojack_driver *d, ASIOChannelInfo *info)
{
    if (!info)
        return asiojack_fail(d, ASE_InvalidParameter, "getChannelInfo: no place for the result");
    if (info->isInput != ASIOFalse && info->isInput != ASIOTrue)
        return asiojack_fail(d, ASE_InvalidParameter,
                             "getChannelInfo: isInput is %ld, not ASIOTrue (1) or ASIOFalse (0)",
                             (long)info->isInput);
    BOOL input = info->isInput != ASIOFalse;
    uint32_t n = input ? d->layout.n_inputs : d->layout.n_outputs;
    if (info->channel < 0 || (uint32_t)info->channel >= n)
        return asiojack_fail(d, ASE_InvalidParameter, "no %s channel %ld (there are %u)",
                             input ? "input" : "output", (long)info->channel, (unsigned)n);
    uint32_t ch = (uint32_t)info->channel;
    const char *name = input ? d->shm->in_names[ch] : d->shm->out_names[ch];
    char safe[ASIOJACK_NAME_LEN];
    /* The segment is shared: never trust its terminator. */
    memcpy(safe, name, sizeof(safe));
    safe[sizeof(safe) - 1] = 0;
    info->isActive = (input ? d->in_active[ch] : d->out_active[ch]) ? ASIOTrue : ASIOFalse;
    info->channelGroup = 0;
    info->type = (ASIOSampleType)asio_sample_type(d->layout.sample_type);
    asiojack_copy_text(info->name, sizeof(info->name), safe);
    return ASE_OK;
}

static ASIOError get_buffer_size(struct asiojack_driver *d, LONG *min_size, LONG *max_size,
                                 LONG *preferred, LONG *granularity)
{
    if (!min_size && !max_size && !preferred && !granularity)
        return asiojack_fail(d, ASE_InvalidParameter, "getBufferSize: no place for the result");
    LONG frames = (LONG)asiojack_load_u32(&d->shm->jack_buffer_frames);
    BOOL host_mode = asiojack_load_u32(&d->shm->buffer_mode) == ASIOJACK_BUFFER_HOST;
    /* JACK mode: one size only, JACK's period.  Host mode: the powers of
     * two the server allows (granularity -1 says "powers of two"), JACK's
     * current period preferred, so a host that takes the default changes
     * nothing for the other JACK clients. */
    if (min_size)
        *min_size = host_mode ? (LONG)asiojack_load_u32(&d->shm->min_host_frames) : frames;
    if (max_size)
        *max_size = host_mode ? (LONG)asiojack_load_u32(&d->shm->max_host_frames) : frames;
    if (preferred)
        *preferred = frames;
    if (granularity)
        *granularity = host_mode ? -1 : 0;
    return ASE_OK;
}

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
    uint32_t n_in = d->layout.n_inputs, n_out = d->layout.n_outputs;
    uint32_t jack_frames = asiojack_load_u32(&d->shm->jack_buffer_frames);

    if (!infos || !callbacks)
        return asiojack_fail(d, ASE_InvalidParameter,
                             "createBuffers: missing buffer infos or callbacks");
    if (!callbacks->bufferSwitch && !callbacks->bufferSwitchTimeInfo)
        return asiojack_fail(d, ASE_InvalidParameter, "createBuffers: the host gave no bufferSwitch");
    if (count <= 0 || (uint32_t)count > n_in + n_out)
        return asiojack_fail(d, ASE_InvalidParameter, "createBuffers: %ld channels asked, %u exist",
                             (long)count, (unsigned)(n_in + n_out));
    if (asiojack_load_u32(&d->shm->buffer_mode) == ASIOJACK_BUFFER_HOST) {
        /* The server sets JACK's period to it, and answers once JACK runs so. */
        uint32_t lo = asiojack_load_u32(&d->shm->min_host_frames);
        uint32_t hi = asiojack_load_u32(&d->shm->max_host_frames);
        if (frames <= 0 || (frames & (frames - 1)) || (uint32_t)frames < lo ||
            (uint32_t)frames > hi || (uint32_t)frames > d->layout.max_frames)
            return asiojack_fail(d, ASE_InvalidParameter,
                                 "buffer size %ld refused: asiojack takes powers of two from %u to %u",
                                 (long)frames, (unsigned)lo, (unsigned)hi);
    } else if (frames <= 0 || (uint32_t)frames != jack_frames ||
               (uint32_t)frames > d->layout.max_frames) {
        return asiojack_fail(d, ASE_InvalidParameter,
                             "buffer size %ld refused: JACK runs %u frames per period "
                             "(buffer_size = \"host\" in asiojack's config lets hosts choose)",
                             (long)frames, (unsigned)jack_frames);
    }
    for (LONG i = 0; i < count; i++) {
        BOOL input = infos[i].isInput != ASIOFalse;
        LONG ch = infos[i].channelNum;
        uint8_t *active = input ? in_active : out_active;
        if (ch < 0 || (uint32_t)ch >= (input ? n_in : n_out))
            return asiojack_fail(d, ASE_InvalidParameter, "createBuffers: no %s channel %ld",
                                 input ? "input" : "output", (long)ch);
        if (active[ch])
            return asiojack_fail(d, ASE_InvalidParameter,
                                 "createBuffers: %s channel %ld asked twice",
                                 input ? "input" : "output", (long)ch);
        active[ch] = 1;
    }
    return ASE_OK;
}

/* d->lock held. */
static ASIOError create_buffers_locked(struct asiojack_driver *d, ASIOBufferInfo *infos,
                                       LONG count, LONG frames, ASIOCallbacks *callbacks)
{
    struct asiojack_unix_create_params p;
    if (d->state != STATE_INITIALIZED)
        return asiojack_fail(d, ASE_InvalidMode,
                             "createBuffers: buffers exist already (disposeBuffers first)");
    memset(&p, 0, sizeof(p));
    ASIOError r = check_buffer_request(d, infos, count, frames, callbacks, p.in_active,
                                       p.out_active);
    if (r != ASE_OK)
        return r;

    /* Everything that can fail comes before the host's infos are touched. */
    for (LONG i = 0; i < count; i++) {
        BOOL input = infos[i].isInput != ASIOFalse;
        for (uint32_t half = 0; half < 2; half++) {
            if (!channel_buffer(d, input, half, (uint32_t)infos[i].channelNum))
                return asiojack_fail(d, ASE_HWMalfunction, "createBuffers: channel %ld has no buffer",
                                     (long)infos[i].channelNum);
        }
    }
    p.frames = (uint32_t)frames;
    if (!asiojack_session_call(d, ASIOJACK_UNIX_CREATE_BUFFERS, &p.ctl, "createBuffers"))
        return ASE_HWMalfunction;

    /* The host's pointers go straight into the shared segment: no copy. */
    for (LONG i = 0; i < count; i++) {
        BOOL input = infos[i].isInput != ASIOFalse;
        for (uint32_t half = 0; half < 2; half++) {
            void *b = channel_buffer(d, input, half, (uint32_t)infos[i].channelNum);
            infos[i].buffers[half] = b;
            /* Stale output from an earlier run must not be played. */
            if (!input)
                memset(b, 0, (size_t)frames * d->layout.bytes_per_sample);
        }
    }
    memcpy(d->in_active, p.in_active, sizeof(d->in_active));
    memcpy(d->out_active, p.out_active, sizeof(d->out_active));
    d->callbacks = *callbacks;
    d->frames = (uint32_t)frames;
    d->state = STATE_PREPARED;
    return ASE_OK;
}

static ASIOError create_buffers(struct asiojack_driver *d, ASIOBufferInfo *infos, LONG count,
                                LONG frames, ASIOCallbacks *callbacks)
{
    EnterCriticalSection(&d->lock);
    ASIOError r = create_buffers_locked(d, infos, count, frames, callbacks);
    LeaveCriticalSection(&d->lock);
    return r;
}

void asiojack_do_dispose(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    memset(&p, 0, sizeof(p));
    asiojack_session_call(d, ASIOJACK_UNIX_DISPOSE_BUFFERS, &p, "disposeBuffers");
    memset(d->in_active, 0, sizeof(d->in_active));
    memset(d->out_active, 0, sizeof(d->out_active));
    memset(&d->callbacks, 0, sizeof(d->callbacks));
    d->state = STATE_INITIALIZED;
}

static ASIOError dispose_buffers(struct asiojack_driver *d)
{
    ASIOError r = ASE_OK;
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_INITIALIZED)
        r = asiojack_fail(d, ASE_InvalidMode, "disposeBuffers: no buffers were created");
    else if (d->state != STATE_LOADED) {
        if (d->state == STATE_RUNNING)
            asiojack_do_stop(d);
        asiojack_do_dispose(d);
        /* The server's configuration changed (channels, sample type, buffer
         * mode) and it asked for a reset: the session it opened for us has
         * the old settings.  Hosts that answer the reset by re-creating
         * their buffers, without re-opening the driver, get a fresh session
         * with the new settings here. */
        /* Likewise when JACK or the server went away: the session is dead,
         * and a host that re-creates its buffers gets a new one (from a
         * new, auto-started server if need be).  If that fails now,
         * createBuffers tries again. */
        BOOL gone = InterlockedCompareExchange(&d->jack_gone, 0, 0) != 0;
        if (gone || InterlockedCompareExchange(&d->config_changed, 0, 0)) {
            char why[sizeof(d->error)];
            memcpy(why, d->error, sizeof(why));
            asiojack_close_session(d);
            if (!asiojack_open_session(d)) {
                InterlockedExchange(&d->lost, 1);
                if (gone) /* disposing worked; what the host must know is why */
                    memcpy(d->error, why, sizeof(why));
                else
                    r = ASE_HWMalfunction;
            }
        }
    }
    LeaveCriticalSection(&d->lock);
    return r;
}

IASIO_METHOD(getChannels, NEED_SESSION, get_channels,
             (struct asiojack_driver *d, LONG *inputs, LONG *outputs), (d, inputs, outputs))
IASIO_METHOD(getChannelInfo, NEED_SESSION, get_channel_info,
             (struct asiojack_driver *d, ASIOChannelInfo *info), (d, info))
IASIO_METHOD(getBufferSize, NEED_SESSION, get_buffer_size,
             (struct asiojack_driver *d, LONG *min_size, LONG *max_size, LONG *preferred,
              LONG *granularity),
             (d, min_size, max_size, preferred, granularity))
IASIO_METHOD(createBuffers, NEED_REOPEN, create_buffers,
             (struct asiojack_driver *d, ASIOBufferInfo *infos, LONG count, LONG frames,
              ASIOCallbacks *callbacks),
             (d, infos, count, frames, callbacks))
IASIO_METHOD(disposeBuffers, NEED_CONTROL, dispose_buffers, (struct asiojack_driver *d), (d))
