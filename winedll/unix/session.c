/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * session.c: the control calls.  Each one wraps the matching client.c call
 * and hands its status and error text back to the PE side.
 */
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "unix_private.h"

_Static_assert(ASIOJACK_UNIX_REFUSED == ASIOJACK_CLIENT_REFUSED, "refusal status");

/* Store a client.c result in the head; the text only matters on failure. */
static asiojack_ntstatus report(struct asiojack_unix_control *ctl,
                                struct asiojack_client *c, int status)
{
    ctl->status = status;
    if (status)
        asiojack_copy_text(ctl->error, sizeof(ctl->error), c->error);
    else
        ctl->error[0] = 0;
    return ASIOJACK_STATUS_SUCCESS;
}

asiojack_ntstatus asiojack_unix_open(void *args)
{
    return asiojack_unix_open_session(args, 0);
}

asiojack_ntstatus asiojack_unix_open_session(void *args, int below_4g)
{
    struct asiojack_unix_open_params *p = args;
    struct asiojack_client *c = calloc(1, sizeof(*c));

    p->ctl.client = 0;
    p->shm = 0;
    if (!c) {
        p->ctl.status = ASIOJACK_CLIENT_PROTOCOL;
        asiojack_copy_text(p->ctl.error, sizeof(p->ctl.error), "out of memory");
        return ASIOJACK_STATUS_NO_MEMORY;
    }
    /* The PE side's strings come from a foreign compiler: never trust a
     * terminator. */
    p->exe_name[sizeof(p->exe_name) - 1] = 0;
    p->client_name[sizeof(p->client_name) - 1] = 0;

    int r = asiojack_client_connect(c, p->exe_name, p->bits, p->autostart != 0);
    if (!r) {
        c->map_below_4g = below_4g != 0;
        r = asiojack_client_open(c, p->client_name, 0, 0);
        if (r)
            asiojack_client_close(c);
    }
    report(&p->ctl, c, r);
    if (r) {
        free(c);
        return ASIOJACK_STATUS_SUCCESS;
    }
    p->ctl.client = (uint64_t)(uintptr_t)c;
    p->shm = (uint64_t)(uintptr_t)c->shm;
    p->layout = c->layout;
    return ASIOJACK_STATUS_SUCCESS;
}

asiojack_ntstatus asiojack_unix_close(void *args)
{
    struct asiojack_unix_control *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->client);
    if (!c)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    asiojack_client_close(c);
    free(c);
    p->client = 0;
    p->status = 0;
    p->error[0] = 0;
    return ASIOJACK_STATUS_SUCCESS;
}

asiojack_ntstatus asiojack_unix_create_buffers(void *args)
{
    struct asiojack_unix_create_params *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->ctl.client);
    if (!c)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    return report(&p->ctl, c,
                  asiojack_client_create_buffers(c, p->frames, p->in_active,
                                                 p->out_active));
}

/* A request with no arguments: the same for dispose, start and stop. */
static asiojack_ntstatus plain_request(void *args, int (*request)(struct asiojack_client *))
{
    struct asiojack_unix_control *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->client);
    if (!c)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    return report(p, c, request(c));
}

asiojack_ntstatus asiojack_unix_dispose_buffers(void *args)
{
    return plain_request(args, asiojack_client_dispose_buffers);
}

asiojack_ntstatus asiojack_unix_start(void *args)
{
    return plain_request(args, asiojack_client_start);
}

asiojack_ntstatus asiojack_unix_stop(void *args)
{
    return plain_request(args, asiojack_client_stop);
}

asiojack_ntstatus asiojack_unix_buffer(void *args)
{
    struct asiojack_unix_buffer_params *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->client);
    if (!c)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    void *b = p->is_input ? asiojack_client_in_buffer(c, p->half, p->channel)
                          : asiojack_client_out_buffer(c, p->half, p->channel);
    p->address = (uint64_t)(uintptr_t)b;
    return ASIOJACK_STATUS_SUCCESS;
}

asiojack_ntstatus asiojack_unix_set_monitor(void *args)
{
    struct asiojack_unix_monitor_params *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->ctl.client);
    if (!c)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    return report(&p->ctl, c,
                  asiojack_client_set_monitor(c, p->input, p->output, p->gain, p->pan, p->on));
}

asiojack_ntstatus asiojack_unix_transport(void *args)
{
    struct asiojack_unix_transport_params *p = args;
    struct asiojack_client *c = asiojack_unix_client(p->ctl.client);
    if (!c)
        return ASIOJACK_STATUS_INVALID_PARAMETER;
    return report(&p->ctl, c, asiojack_client_transport(c, p->command, p->frame));
}
