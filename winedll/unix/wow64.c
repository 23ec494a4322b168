/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * wow64.c: the calls of a 32-bit PE into this 64-bit library, for Wine's
 * new-style WoW64 (Wine 9+ built with --enable-archs, recent Proton).
 *
 * What Wine does there: a 32-bit program runs in a 64-bit process; the
 * i386 asiojack.dll asks for its unix library, and Wine loads the one
 * x86_64 asiojack.so (there is no 32-bit unix code in that mode).  When
 * the 32-bit PE calls __wine_unix_call(handle, code, args), ntdll's wow64
 * layer looks up "__wine_unix_call_wow64_funcs" (instead of
 * "__wine_unix_call_funcs") and calls entry `code` with `args` pointing at
 * the params struct *as the 32-bit compiler laid it out*, in the 32-bit
 * address space (below 4 GiB).  Wine's own libraries give each call a thunk
 * that reads the 32-bit struct (pointers as 32-bit values), builds the
 * 64-bit struct, calls the 64-bit implementation and writes the results
 * back in 32-bit form.
 *
 * Here the conversion is simpler than in Wine's libraries, by design:
 * unixlib.h declares every params struct with fixed-width fields, explicit
 * padding and addresses as uint64_t, so the i686 layout (MinGW's, and gcc
 * -m32's) is byte for byte the x86_64 one (the static asserts there and
 * tests/test_wow64.py pin that).  Each thunk still copies the struct in,
 * calls the 64-bit entry on the copy and copies the results out, so the
 * 64-bit code never depends on the 32-bit caller's alignment, and checks
 * the one thing the layout cannot: every address handed *to* 32-bit code
 * (the segment, a channel buffer) must lie below 4 GiB, and every address
 * taken *from* it must be a 32-bit one.  The session handle stays a 64-bit
 * value the PE keeps as uint64_t and never dereferences.
 *
 * Built into the x86_64 library only; Debian's Wine 8 (old-style WoW64,
 * a 32-bit unix library) never calls it.  Unit-tested, not run under Wine.
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "unix_private.h"

#define LIMIT_32BIT 0x100000000ull

/* Whether [address, address + size) is addressable by 32-bit code. */
static int below_4g(uint64_t address, uint64_t size)
{
    return address < LIMIT_32BIT && size <= LIMIT_32BIT - address;
}

/* A call whose struct carries no address to or from 32-bit code: copy in,
 * call the 64-bit entry, copy out. */
#define WOW64_COPY_THUNK(name, type, entry)                                    \
    static asiojack_ntstatus name(void *args)                                  \
    {                                                                          \
        type p;                                                                \
        memcpy(&p, args, sizeof(p));                                           \
        asiojack_ntstatus status = entry(&p);                                  \
        memcpy(args, &p, sizeof(p));                                           \
        return status;                                                         \
    }

WOW64_COPY_THUNK(wow64_close, struct asiojack_unix_control, asiojack_unix_close)
WOW64_COPY_THUNK(wow64_create_buffers, struct asiojack_unix_create_params,
                 asiojack_unix_create_buffers)
WOW64_COPY_THUNK(wow64_dispose_buffers, struct asiojack_unix_control,
                 asiojack_unix_dispose_buffers)
WOW64_COPY_THUNK(wow64_start, struct asiojack_unix_control, asiojack_unix_start)
WOW64_COPY_THUNK(wow64_stop, struct asiojack_unix_control, asiojack_unix_stop)
WOW64_COPY_THUNK(wow64_done, struct asiojack_unix_done_params, asiojack_unix_done)
WOW64_COPY_THUNK(wow64_set_rt, struct asiojack_unix_rt_params, asiojack_unix_set_rt)
WOW64_COPY_THUNK(wow64_position, struct asiojack_unix_position_params,
                 asiojack_unix_position)
WOW64_COPY_THUNK(wow64_set_monitor, struct asiojack_unix_monitor_params,
                 asiojack_unix_set_monitor)
WOW64_COPY_THUNK(wow64_transport, struct asiojack_unix_transport_params,
                 asiojack_unix_transport)
WOW64_COPY_THUNK(wow64_control_panel, struct asiojack_unix_panel_params,
                 asiojack_unix_control_panel)
WOW64_COPY_THUNK(wow64_trace, struct asiojack_unix_trace_params, asiojack_unix_trace)

/* OPEN: the segment is mapped below 4 GiB, since the host's buffer
 * pointers point straight into it. */
static asiojack_ntstatus wow64_open(void *args)
{
    struct asiojack_unix_open_params p;
    memcpy(&p, args, sizeof(p));
    asiojack_ntstatus status = asiojack_unix_open_session(&p, 1);
    if (status == ASIOJACK_STATUS_SUCCESS && p.ctl.status == 0) {
        struct asiojack_client *c = asiojack_unix_client(p.ctl.client);
        if (!below_4g(p.shm, c->shm_size)) {
            /* client.c refuses such a mapping already; never hand one over. */
            asiojack_client_close(c);
            free(c);
            p.ctl.client = 0;
            p.shm = 0;
            p.ctl.status = ASIOJACK_CLIENT_SHM;
            asiojack_copy_text(p.ctl.error, sizeof(p.ctl.error),
                               "the session's shared memory is above 4 GiB: "
                               "a 32-bit program cannot use it");
        }
    }
    memcpy(args, &p, sizeof(p));
    return status;
}

/* BUFFER: a channel buffer's address goes to 32-bit code. */
static asiojack_ntstatus wow64_buffer(void *args)
{
    struct asiojack_unix_buffer_params p;
    memcpy(&p, args, sizeof(p));
    asiojack_ntstatus status = asiojack_unix_buffer(&p);
    if (status == ASIOJACK_STATUS_SUCCESS && p.address) {
        struct asiojack_client *c = asiojack_unix_client(p.client);
        /* The geometry copied and checked at open, never the live
         * segment's word (the server could change it after the check). */
        uint64_t bytes = c->shm ? c->layout.channel_stride : 0;
        if (!below_4g(p.address, bytes))
            p.address = 0; /* the PE reports "no such channel" */
    }
    memcpy(args, &p, sizeof(p));
    return status;
}

/* WAIT: quit_address is a 32-bit program's address, widened. */
static asiojack_ntstatus wow64_wait(void *args)
{
    struct asiojack_unix_wait_params p;
    memcpy(&p, args, sizeof(p));
    if (p.quit_address && !below_4g(p.quit_address, sizeof(int32_t)))
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    asiojack_ntstatus status = asiojack_unix_wait(&p);
    memcpy(args, &p, sizeof(p));
    return status;
}

__attribute__((visibility("default")))
const asiojack_unix_entry __wine_unix_call_wow64_funcs[] = {
    [ASIOJACK_UNIX_OPEN] = wow64_open,
    [ASIOJACK_UNIX_CLOSE] = wow64_close,
    [ASIOJACK_UNIX_CREATE_BUFFERS] = wow64_create_buffers,
    [ASIOJACK_UNIX_DISPOSE_BUFFERS] = wow64_dispose_buffers,
    [ASIOJACK_UNIX_START] = wow64_start,
    [ASIOJACK_UNIX_STOP] = wow64_stop,
    [ASIOJACK_UNIX_BUFFER] = wow64_buffer,
    [ASIOJACK_UNIX_WAIT] = wow64_wait,
    [ASIOJACK_UNIX_DONE] = wow64_done,
    [ASIOJACK_UNIX_SET_RT] = wow64_set_rt,
    [ASIOJACK_UNIX_POSITION] = wow64_position,
    [ASIOJACK_UNIX_SET_MONITOR] = wow64_set_monitor,
    [ASIOJACK_UNIX_TRANSPORT] = wow64_transport,
    [ASIOJACK_UNIX_CONTROL_PANEL] = wow64_control_panel,
    [ASIOJACK_UNIX_TRACE] = wow64_trace,
};

_Static_assert(sizeof(__wine_unix_call_wow64_funcs) / sizeof(__wine_unix_call_wow64_funcs[0]) ==
                   ASIOJACK_UNIX_FUNC_COUNT,
               "one wow64 entry per call");
