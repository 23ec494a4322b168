/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * panel.c: ASIO's controlPanel.  asiojack has no dialog of its own inside
 * the Wine process: the settings are the server's configuration file, and
 * `asiojack settings` (a small Linux window) edits it.  Hosts call
 * controlPanel on their GUI thread and wait for it, so the window is
 * started detached, like the autostarted server, and never waited for.
 */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "autostart.h"
#include "unix_private.h"


static int has_display(void)
{
    const char *x11 = getenv("DISPLAY"), *wayland = getenv("WAYLAND_DISPLAY");
    return (x11 && *x11) || (wayland && *wayland);
}

/* The settings window's log sits next to the server's, opened as safely
 * (asiojack_open_runtime_log); if the runtime directory is not safe, the
 * window still opens, logging nowhere. */
static int open_settings_log(void)
{
    char error[ASIOJACK_TEXT_LEN];
    int fd = asiojack_open_runtime_log("settings.log", error, sizeof(error));
    return fd >= 0 ? fd : open("/dev/null", O_WRONLY | O_CLOEXEC);
}

asiojack_ntstatus asiojack_unix_control_panel(void *args)
{
    struct asiojack_unix_panel_params *p = args;
    /* Same command convention as the server's autostart: sh backgrounds a
     * setsid'd child and exits at once, so nothing is left for the host
     * process to reap and the window outlives a host that quits. */
    static const char script[] =
        "cmd=\"${ASIOJACK_SERVER:-asiojack}\"; cd / && "
        "setsid $cmd settings --pid \"$1\" </dev/null >&3 2>&3 3>&- &";
    posix_spawn_file_actions_t actions;
    char pid[16];
    pid_t sh_pid;
    int status;

    p->error[0] = 0;
    if (!has_display()) {
        /* The host shows at most 123 characters: the command first. */
        const char *file = getenv("ASIOJACK_CONFIG"), *xdg = getenv("XDG_CONFIG_HOME");
        p->status = ASIOJACK_PANEL_NO_DISPLAY;
        if (file && *file)
            snprintf(p->error, sizeof(p->error), "no display: run `asiojack config` or edit %s",
                     file);
        else if (xdg && *xdg)
            snprintf(p->error, sizeof(p->error),
                     "no display: run `asiojack config` or edit %s/asiojack/config.toml", xdg);
        else
            snprintf(p->error, sizeof(p->error),
                     "no display: run `asiojack config` or edit ~/.config/asiojack/config.toml");
        return ASIOJACK_STATUS_SUCCESS;
    }
    int log_fd = open_settings_log();
    /* The window shows this program first: the server knows it by this
     * pid (the socket's peer), the Wine process itself. */
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    char *argv[] = {"sh", "-c", (char *)script, "sh", pid, NULL};
    /* The settings window is our Python too: no runtime's libraries in it. */
    char *envp[256];
    asiojack_server_environ(envp, sizeof(envp) / sizeof(envp[0]));
    posix_spawn_file_actions_init(&actions);
    if (log_fd >= 0)
        posix_spawn_file_actions_adddup2(&actions, log_fd, 3); /* clears close-on-exec */
    else
        posix_spawn_file_actions_addopen(&actions, 3, "/dev/null", O_WRONLY, 0);
    int r = posix_spawn(&sh_pid, "/bin/sh", &actions, NULL, argv, envp);
    posix_spawn_file_actions_destroy(&actions);
    if (log_fd >= 0)
        close(log_fd);
    if (r != 0) {
        p->status = ASIOJACK_PANEL_FAILED;
        snprintf(p->error, sizeof(p->error), "cannot run /bin/sh for `asiojack settings`: %s",
                 strerror(r));
        return ASIOJACK_STATUS_SUCCESS;
    }
    while (waitpid(sh_pid, &status, 0) < 0) {
        if (errno != EINTR)
            break; /* SIGCHLD ignored by the host: nothing to reap */
    }
    p->status = ASIOJACK_PANEL_STARTED;
    return ASIOJACK_STATUS_SUCCESS;
}
