/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * future.c: what ASIO added after its first version, and the panel.
 * future() answers the capability queries and carries input monitoring
 * and transport to the server; outputReady hands a cycle over early;
 * controlPanel says what asiojack does instead of what the SDK imagined.
 */
#include <string.h>

#include "driver.h"

static ASIOError control_panel(struct asiojack_driver *d)
{
    struct asiojack_unix_panel_params p;
    memset(&p, 0, sizeof(p));
    /* The window is a Linux program started detached: nothing here waits
     * for it, so the host's GUI thread is back at once. */
    NTSTATUS st = asiojack_unix_call(ASIOJACK_UNIX_CONTROL_PANEL, &p);
    if (st) {
        const char *missing = asiojack_unix_missing();
        return asiojack_fail(d, ASE_NotPresent, "%s",
                    missing ? missing : "controlPanel: the unix library failed");
    }
    p.error[sizeof(p.error) - 1] = 0;
    if (p.status != ASIOJACK_PANEL_STARTED)
        return asiojack_fail(d, ASE_NotPresent, "%s", p.error);
    return ASE_OK;
}

/* future(kAsioSetInputMonitor): the engine mixes the JACK input into the
 * JACK output inside the cycle, whether the host streams or not. */
static ASIOError set_input_monitor(struct asiojack_driver *d, const ASIOInputMonitor *m)
{
    struct asiojack_unix_monitor_params p;
    if (!m)
        return asiojack_fail(d, ASE_InvalidParameter, "kAsioSetInputMonitor: no ASIOInputMonitor given");
    /* Read under shm_lock: a reset may close the session meanwhile. */
    AcquireSRWLockShared(&d->shm_lock);
    BOOL have = asiojack_require_session(d) == ASE_OK;
    uint32_t n_in = have ? d->layout.n_inputs : 0, n_out = have ? d->layout.n_outputs : 0;
    ReleaseSRWLockShared(&d->shm_lock);
    if (!have)
        return ASE_NotPresent;
    if (m->input < -1 || (m->input >= 0 && (uint32_t)m->input >= n_in))
        return asiojack_fail(d, ASE_InvalidParameter, "input monitor: no input channel %ld (there are %u)",
                    (long)m->input, (unsigned)n_in);
    if (m->state != ASIOFalse && (m->output < 0 || (uint32_t)m->output >= n_out))
        return asiojack_fail(d, ASE_InvalidParameter,
                    "input monitor: no output channel %ld (there are %u)", (long)m->output,
                    (unsigned)n_out);
    if (m->gain < 0)
        return asiojack_fail(d, ASE_InvalidParameter, "input monitor: gain %ld is negative",
                    (long)m->gain);
    memset(&p, 0, sizeof(p));
    p.ctl.client = d->client;
    p.input = m->input;
    p.output = m->output;
    p.gain = m->gain;
    p.pan = m->pan;
    p.on = m->state != ASIOFalse;
    NTSTATUS st = asiojack_socket_call(d, ASIOJACK_UNIX_SET_MONITOR, &p);
    if (st)
        return asiojack_fail(d, ASE_HWMalfunction, "input monitor: unix call failed (status %#lx)",
                    (unsigned long)st);
    if (p.ctl.status) {
        p.ctl.error[sizeof(p.ctl.error) - 1] = 0;
        return asiojack_fail(d, p.ctl.status == ASIOJACK_UNIX_REFUSED ? ASE_InvalidParameter
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
        return asiojack_fail(d, ASE_InvalidParameter, "kAsioTransport: no ASIOTransportParameters given");
    if (asiojack_require_session(d) != ASE_OK)
        return ASE_NotPresent;
    memset(&p, 0, sizeof(p));
    switch (t->command) {
    case kTransportStart: p.command = ASIOJACK_TRANSPORT_START; break;
    case kTransportStop: p.command = ASIOJACK_TRANSPORT_STOP; break;
    case kTransportLocate:
        p.command = ASIOJACK_TRANSPORT_LOCATE;
        p.frame = ((uint64_t)t->samplePosition.hi << 32) | t->samplePosition.lo;
        break;
    default:
        return asiojack_fail(d, ASE_InvalidParameter,
                    "transport command %ld: JACK only starts, stops and locates",
                    (long)t->command);
    }
    p.ctl.client = d->client;
    NTSTATUS st = asiojack_socket_call(d, ASIOJACK_UNIX_TRANSPORT, &p);
    if (st)
        return asiojack_fail(d, ASE_HWMalfunction, "transport: unix call failed (status %#lx)",
                    (unsigned long)st);
    if (p.ctl.status) {
        p.ctl.error[sizeof(p.ctl.error) - 1] = 0;
        return asiojack_fail(d, ASE_HWMalfunction, "transport: %s", p.ctl.error);
    }
    return ASE_SUCCESS;
}

static ASIOError future(struct asiojack_driver *d, LONG selector, void *opt)
{
    switch (selector) {
    case kAsioCanTimeInfo:
    case kAsioCanTimeCode:
    case kAsioCanInputMonitor:
    case kAsioCanTransport:
    case kAsioCanReportOverload: /* kAsioOverload after a missed deadline */
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

/*
 * outputReady: the host's outputs for this cycle are written.  The engine
 * plays them at once instead of when bufferSwitch returns, so whatever a
 * host does after it (meters, disk, GUI updates) no longer holds up JACK's
 * cycle, nor counts against the deadline.  It lowers no latency (the
 * engine adds none), and a host that never calls it loses nothing.
 * scripts/bench --output-ready measures the engine's wait with and without.
 */
static ASIOError output_ready(struct asiojack_driver *d)
{
    asiojack_thread_output_ready(d);
    return ASE_OK;
}

IASIO_METHOD(controlPanel, NEED_NOTHING, control_panel, (struct asiojack_driver *d), (d))
/* future() takes no state check at the door: hosts probe the kAsioCan*
 * selectors before init; the selectors that need a session check it. */
IASIO_METHOD(future, NEED_NOTHING, future,
             (struct asiojack_driver *d, LONG selector, void *opt), (d, selector, opt))
/* Before init there is no session to hand anything to: ASE_NotPresent in
 * words at the door. */
IASIO_METHOD(outputReady, NEED_SESSION, output_ready, (struct asiojack_driver *d), (d))
