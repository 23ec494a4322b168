/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * replies.c: a reply that comes after its request timed out must never be
 * taken for the answer to the next request.  Connects (HELLO), asks START
 * (which tests/fakeserver.py answers late), then STOP, and prints what each
 * call returned as one JSON line.  Built with a short
 * ASIOJACK_REPLY_TIMEOUT_MS so the test need not wait 10 s.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

int main(void)
{
    struct asiojack_client c;
    char first_error[ASIOJACK_TEXT_LEN];
    int r = asiojack_client_connect(&c, "replies.exe", 64, 0);
    if (r) {
        printf("{\"error\": %d, \"message\": \"%s\"}\n", r, c.error);
        return 1;
    }
    int first = asiojack_client_start(&c);
    memcpy(first_error, c.error, sizeof(first_error));
    int second = asiojack_client_stop(&c);
    printf("{\"first\": %d, \"first_error\": \"%s\", \"second\": %d, \"second_error\": \"%s\"}\n",
           first, first_error, second, second ? c.error : "");
    asiojack_client_close(&c);
    return 0;
}
