/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* unix_private.h: the entry points of the unix library, one per call. */
#ifndef ASIOJACK_UNIX_PRIVATE_H
#define ASIOJACK_UNIX_PRIVATE_H

#include <stdint.h>

#include "client.h"
#include "unixlib.h"

/* What Wine expects of each table entry: NTSTATUS (*)(void *args). */
typedef int32_t asiojack_ntstatus;
typedef asiojack_ntstatus (*asiojack_unix_entry)(void *args);

#define ASIOJACK_STATUS_SUCCESS ((asiojack_ntstatus)0)
#define ASIOJACK_STATUS_INVALID_PARAMETER ((asiojack_ntstatus)0xc000000dU)
#define ASIOJACK_STATUS_NO_MEMORY ((asiojack_ntstatus)0xc0000017U)
#define ASIOJACK_STATUS_UNSUCCESSFUL ((asiojack_ntstatus)0xc0000001U)

static inline struct asiojack_client *asiojack_unix_client(uint64_t handle)
{
    return (struct asiojack_client *)(uintptr_t)handle;
}

/* session.c: the control calls, on the host's control thread. */
asiojack_ntstatus asiojack_unix_open(void *args);
/* OPEN, with the segment mapped below 4 GiB when below_4g (wow64.c). */
asiojack_ntstatus asiojack_unix_open_session(void *args, int below_4g);
asiojack_ntstatus asiojack_unix_close(void *args);
asiojack_ntstatus asiojack_unix_create_buffers(void *args);
asiojack_ntstatus asiojack_unix_dispose_buffers(void *args);
asiojack_ntstatus asiojack_unix_start(void *args);
asiojack_ntstatus asiojack_unix_stop(void *args);
asiojack_ntstatus asiojack_unix_buffer(void *args);
asiojack_ntstatus asiojack_unix_set_monitor(void *args);
asiojack_ntstatus asiojack_unix_transport(void *args);

/* panel.c: the settings window, started detached. */
asiojack_ntstatus asiojack_unix_control_panel(void *args);

/* cycle.c: the audio path, on the driver's callback thread. */
asiojack_ntstatus asiojack_unix_wait(void *args);
asiojack_ntstatus asiojack_unix_done(void *args);
asiojack_ntstatus asiojack_unix_position(void *args);

/* trace.c: the IASIO call trace, when $ASIOJACK_TRACE names a file. */
asiojack_ntstatus asiojack_unix_trace(void *args);

/* rt.c */
asiojack_ntstatus asiojack_unix_set_rt(void *args);

#endif /* ASIOJACK_UNIX_PRIVATE_H */
