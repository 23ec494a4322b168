/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock.c: rate, clock, latency and position.  JACK owns the clock: the
 * rate and the period are JACK's, and the driver only accepts what it
 * cannot change.  Every method here is a query hosts may call from any
 * thread, inside bufferSwitch too, so none takes the driver lock.
 */
#include <string.h>

#include "driver.h"
#include "text.h"

static uint32_t jack_rate(const struct asiojack_driver *d)
{
    return asiojack_load_u32(&d->shm->sample_rate);
}

static BOOL rate_is_jacks(const struct asiojack_driver *d, double rate)
{
    double diff = rate - (double)jack_rate(d);
    return diff < 0.01 && diff > -0.01;
}

static ASIOError get_latencies(struct asiojack_driver *d, LONG *input, LONG *output)
{
    if (!input && !output)
        return asiojack_fail(d, ASE_InvalidParameter, "getLatencies: no place for the result");
    /* JACK's figures, frame for frame: the worst capture latency reaching
     * the active inputs and the worst playback latency behind the active
     * outputs (bridge/engine/latency.c).  No period is added: a capture
     * port's latency in JACK already counts the period it takes to fill,
     * and the engine plays a cycle's outputs in that very cycle. */
    if (input)
        *input = (LONG)asiojack_load_u32(&d->shm->input_latency);
    if (output)
        *output = (LONG)asiojack_load_u32(&d->shm->output_latency);
    return ASE_OK;
}

static ASIOError can_sample_rate(struct asiojack_driver *d, ASIOSampleRate rate)
{
    if (!__builtin_isfinite(rate))
        return asiojack_fail(d, ASE_InvalidParameter, "canSampleRate: the rate is not a number");
    if (rate <= 0.0 || !rate_is_jacks(d, rate))
        return asiojack_fail(d, ASE_NoClock, "JACK runs at %u Hz; asiojack cannot change that",
                             (unsigned)jack_rate(d));
    return ASE_OK;
}

static ASIOError get_sample_rate(struct asiojack_driver *d, ASIOSampleRate *rate)
{
    if (!rate)
        return asiojack_fail(d, ASE_InvalidParameter, "getSampleRate: no place for the result");
    *rate = (ASIOSampleRate)jack_rate(d);
    return ASE_OK;
}

static ASIOError set_sample_rate(struct asiojack_driver *d, ASIOSampleRate rate)
{
    if (!__builtin_isfinite(rate))
        return asiojack_fail(d, ASE_InvalidParameter, "setSampleRate: the rate is not a number");
    if (rate == 0.0)
        return ASE_OK; /* "use the external clock": JACK is exactly that */
    if (rate < 0.0 || !rate_is_jacks(d, rate))
        return asiojack_fail(d, ASE_NoClock,
                             "JACK runs at %u Hz; asiojack cannot switch to %.0f Hz",
                             (unsigned)jack_rate(d), rate);
    return ASE_OK;
}

static ASIOError get_clock_sources(struct asiojack_driver *d, ASIOClockSource *clocks,
                                   LONG *count)
{
    if (!clocks || !count)
        return asiojack_fail(d, ASE_InvalidParameter, "getClockSources: no place for the result");
    /* A count of 0 means the host has no room: say how many there are. */
    if (*count > 0) {
        memset(clocks, 0, sizeof(*clocks));
        clocks->index = 0;
        clocks->associatedChannel = -1;
        clocks->associatedGroup = -1;
        clocks->isCurrentSource = ASIOTrue;
        asiojack_copy_text(clocks->name, sizeof(clocks->name), "JACK");
    }
    *count = 1;
    return ASE_OK;
}

static ASIOError set_clock_source(struct asiojack_driver *d, LONG index)
{
    if (index == 0)
        return ASE_OK;
    return asiojack_fail(d, ASE_InvalidParameter,
                         "clock source %ld does not exist: JACK is the only one", (long)index);
}

static ASIOError get_sample_position(struct asiojack_driver *d, ASIOSamples *position,
                                     ASIOTimeStamp *stamp)
{
    struct asiojack_unix_position_params p;
    if (!position || !stamp)
        return asiojack_fail(d, ASE_InvalidParameter,
                             "getSamplePosition: no place for the result");
    /* The state is only left RUNNING after the callback thread is joined. */
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

IASIO_METHOD(getLatencies, NEED_SESSION, get_latencies,
             (struct asiojack_driver *d, LONG *input, LONG *output), (d, input, output))
IASIO_METHOD(canSampleRate, NEED_SESSION, can_sample_rate,
             (struct asiojack_driver *d, ASIOSampleRate rate), (d, rate))
IASIO_METHOD(getSampleRate, NEED_SESSION, get_sample_rate,
             (struct asiojack_driver *d, ASIOSampleRate *rate), (d, rate))
IASIO_METHOD(setSampleRate, NEED_SESSION, set_sample_rate,
             (struct asiojack_driver *d, ASIOSampleRate rate), (d, rate))
IASIO_METHOD(getClockSources, NEED_SESSION, get_clock_sources,
             (struct asiojack_driver *d, ASIOClockSource *clocks, LONG *count),
             (d, clocks, count))
IASIO_METHOD(setClockSource, NEED_SESSION, set_clock_source,
             (struct asiojack_driver *d, LONG index), (d, index))
IASIO_METHOD(getSamplePosition, NEED_SESSION, get_sample_position,
             (struct asiojack_driver *d, ASIOSamples *position, ASIOTimeStamp *stamp),
             (d, position, stamp))
