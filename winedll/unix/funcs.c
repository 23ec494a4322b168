/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * funcs.c: the table Wine's ntdll looks up (dlsym "__wine_unix_call_funcs")
 * when the PE side asks for its unix library; __wine_unix_call(handle,
 * code, args) lands in entry `code`.  The order is enum asiojack_unix_func.
 */
#include "unix_private.h"

__attribute__((visibility("default")))
const asiojack_unix_entry __wine_unix_call_funcs[] = {
    [ASIOJACK_UNIX_OPEN] = asiojack_unix_open,
    [ASIOJACK_UNIX_CLOSE] = asiojack_unix_close,
    [ASIOJACK_UNIX_CREATE_BUFFERS] = asiojack_unix_create_buffers,
    [ASIOJACK_UNIX_DISPOSE_BUFFERS] = asiojack_unix_dispose_buffers,
    [ASIOJACK_UNIX_START] = asiojack_unix_start,
    [ASIOJACK_UNIX_STOP] = asiojack_unix_stop,
    [ASIOJACK_UNIX_BUFFER] = asiojack_unix_buffer,
    [ASIOJACK_UNIX_WAIT] = asiojack_unix_wait,
    [ASIOJACK_UNIX_DONE] = asiojack_unix_done,
    [ASIOJACK_UNIX_SET_RT] = asiojack_unix_set_rt,
    [ASIOJACK_UNIX_POSITION] = asiojack_unix_position,
    [ASIOJACK_UNIX_SET_MONITOR] = asiojack_unix_set_monitor,
    [ASIOJACK_UNIX_TRANSPORT] = asiojack_unix_transport,
    [ASIOJACK_UNIX_CONTROL_PANEL] = asiojack_unix_control_panel,
    [ASIOJACK_UNIX_TRACE] = asiojack_unix_trace,
};

_Static_assert(sizeof(__wine_unix_call_funcs) / sizeof(__wine_unix_call_funcs[0]) ==
                   ASIOJACK_UNIX_FUNC_COUNT,
               "one entry per call");
