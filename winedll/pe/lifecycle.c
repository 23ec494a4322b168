/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * lifecycle.c: the IASIO object's life.  COM (QueryInterface, AddRef,
 * Release), the driver's identity, init, start and stop, the session on
 * the server behind them, and the vtable.
 *
 * The ASIO state machine is loaded -> initialised (init) -> prepared
 * (createBuffers) -> running (start), walked back by stop, disposeBuffers
 * and Release.  Only the state changes take d->lock.  The queries read the
 * segment without it, because hosts call them from inside bufferSwitch or
 * asioMessage while another thread may hold the lock in stop(), waiting
 * for that very callback to return; shm_lock keeps the segment mapped
 * under them instead (entry.c).
 */
#include <string.h>

#include "driver.h"
#include "text.h"

static const GUID iid_unknown = {
    0x00000000, 0x0000, 0x0000, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};

/* ----------------------------------------------------------------- session */

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
    asiojack_copy_text(base, base_size, exe);
    char *dot = strrchr(base, '.');
    if (dot && dot != base)
        *dot = 0;
}

NTSTATUS asiojack_socket_call(struct asiojack_driver *d, enum asiojack_unix_func code,
                              void *args)
{
    /* The socket carries one request and its reply at a time. */
    EnterCriticalSection(&d->io_lock);
    NTSTATUS st = asiojack_unix_call(code, args);
    LeaveCriticalSection(&d->io_lock);
    return st;
}

BOOL asiojack_session_call(struct asiojack_driver *d, enum asiojack_unix_func code,
                           struct asiojack_unix_control *ctl, const char *what)
{
    ctl->client = d->client;
    NTSTATUS st = asiojack_socket_call(d, code, ctl);
    if (st) {
        asiojack_fail(d, ASE_HWMalfunction, "%s: unix call failed (status %#lx)", what,
                      (unsigned long)st);
        return FALSE;
    }
    if (ctl->status) {
        ctl->error[sizeof(ctl->error) - 1] = 0;
        asiojack_fail(d, ASE_HWMalfunction, "%s: %s", what, ctl->error);
        return FALSE;
    }
    return TRUE;
}

void asiojack_close_session(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    memset(&p, 0, sizeof(p));
    p.client = d->client;
    /* CLOSE unmaps the segment: no query may be reading it meanwhile. */
    AcquireSRWLockExclusive(&d->shm_lock);
    if (d->client)
        asiojack_socket_call(d, ASIOJACK_UNIX_CLOSE, &p);
    d->client = 0;
    d->shm = NULL;
    memset(&d->layout, 0, sizeof(d->layout));
    d->state = STATE_LOADED;
    ReleaseSRWLockExclusive(&d->shm_lock);
}

BOOL asiojack_open_session(struct asiojack_driver *d)
{
    struct asiojack_unix_open_params p;
    const char *missing = asiojack_unix_missing();
    if (missing) {
        asiojack_copy_text(d->error, sizeof(d->error), missing);
        return FALSE;
    }
    memset(&p, 0, sizeof(p));
    p.bits = (uint32_t)sizeof(void *) * 8;
    p.autostart = 1;
    exe_names(p.exe_name, sizeof(p.exe_name), p.client_name, sizeof(p.client_name));

    NTSTATUS st = asiojack_unix_call(ASIOJACK_UNIX_OPEN, &p);
    if (st || p.ctl.status || !p.ctl.client || !p.shm) {
        if (st)
            asiojack_fail(d, ASE_NotPresent, "asiojack unix library failed (status %#lx)",
                          (unsigned long)st);
        else {
            p.ctl.error[sizeof(p.ctl.error) - 1] = 0;
            asiojack_copy_text(d->error, sizeof(d->error), p.ctl.error);
        }
        return FALSE;
    }
    AcquireSRWLockExclusive(&d->shm_lock);
    d->client = p.ctl.client;
    d->shm = (const struct asiojack_shm *)(uintptr_t)p.shm;
    d->layout = p.layout;
    d->state = STATE_INITIALIZED;
    ReleaseSRWLockExclusive(&d->shm_lock);
    InterlockedExchange(&d->lost, 0);
    InterlockedExchange(&d->jack_gone, 0);
    InterlockedExchange(&d->config_changed, 0);
    d->error[0] = 0;
    return TRUE;
}

void asiojack_do_stop(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    memset(&p, 0, sizeof(p));
    /* First of all: a host call the callback thread makes from now on
     * gives up on d->lock instead of waiting for it (asiojack_lock). */
    InterlockedExchange(&d->quit, 1);
    /* The engine stops publishing first, then the thread is joined: after
     * this, no bufferSwitch can arrive. */
    asiojack_session_call(d, ASIOJACK_UNIX_STOP, &p, "stop");
    asiojack_thread_stop(d);
    d->state = STATE_PREPARED;
}

/* ----------------------------------------------------------------- IUnknown */

static HRESULT STDMETHODCALLTYPE driver_query_interface(struct asiojack_driver *d,
                                                        REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    /* Hosts pass the driver's CLSID as the interface id: IASIO has none. */
    if (riid && (!memcmp(riid, &iid_unknown, sizeof(GUID)) ||
                 !memcmp(riid, &asiojack_clsid, sizeof(GUID)) ||
                 !memcmp(riid, &asiojack_wineasio_clsid, sizeof(GUID)))) {
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
    if (d->thread_id && GetCurrentThreadId() == d->thread_id) {
        /* The last Release from inside bufferSwitch or asioMessage: this
         * thread still runs driver code when the host's callback returns,
         * and the host may still touch its buffers until then.  The thread
         * ends its loop and frees the driver as its last act. */
        InterlockedExchange(&d->quit, 1);
        InterlockedExchange(&d->free_at_exit, 1);
        return 0;
    }
    asiojack_driver_destroy(d);
    return 0;
}

void asiojack_driver_destroy(struct asiojack_driver *d)
{
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_RUNNING)
        asiojack_do_stop(d);
    if (d->state == STATE_PREPARED)
        asiojack_do_dispose(d);
    asiojack_close_session(d);
    asiojack_thread_stop(d); /* joins a thread that stopped itself */
    LeaveCriticalSection(&d->lock);
    DeleteCriticalSection(&d->lock);
    DeleteCriticalSection(&d->io_lock);
    HeapFree(GetProcessHeap(), 0, d);
    asiojack_module_unref();
}

/* --------------------------------------------------------- identity, init */

static ASIOBool ASIO_METHOD driver_init(struct asiojack_driver *d, void *sys_handle)
{
    (void)sys_handle; /* a window handle: nothing to show it in */
    asiojack_enter(d, "init", NEED_NOTHING);
    if (!asiojack_lock(d)) {
        asiojack_fail(d, ASE_InvalidMode, "init from the audio callback while the stream stops");
        asiojack_leave(d, "init", NEED_NOTHING, TRUE, ASE_InvalidMode);
        return ASIOFalse;
    }
    BOOL ok = d->state != STATE_LOADED || asiojack_open_session(d);
    LeaveCriticalSection(&d->lock);
    asiojack_leave(d, "init", NEED_NOTHING, TRUE, ok ? ASE_OK : ASE_NotPresent);
    return ok ? ASIOTrue : ASIOFalse;
}

static void ASIO_METHOD driver_get_driver_name(struct asiojack_driver *d, char *name)
{
    asiojack_enter(d, "getDriverName", NEED_NOTHING);
    if (name)
        asiojack_copy_text(name, ASIO_DRIVER_NAME_LEN, ASIOJACK_DRIVER_NAME);
    asiojack_leave(d, "getDriverName", NEED_NOTHING, TRUE, ASE_OK);
}

static LONG ASIO_METHOD driver_get_driver_version(struct asiojack_driver *d)
{
    asiojack_enter(d, "getDriverVersion", NEED_NOTHING);
    asiojack_leave(d, "getDriverVersion", NEED_NOTHING, TRUE, ASE_OK);
    return ASIOJACK_DRIVER_VERSION;
}

static void ASIO_METHOD driver_get_error_message(struct asiojack_driver *d, char *text)
{
    asiojack_enter(d, "getErrorMessage", NEED_NOTHING);
    if (text)
        asiojack_copy_text(text, ASIO_ERROR_TEXT_LEN, d->error);
    asiojack_leave(d, "getErrorMessage", NEED_NOTHING, TRUE, ASE_OK);
}

/* --------------------------------------------------------------- start, stop */

static ASIOError start_stream(struct asiojack_driver *d)
{
    struct asiojack_unix_control p;
    ASIOError r = ASE_OK;
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_INITIALIZED)
        r = asiojack_fail(d, ASE_InvalidMode, "start: createBuffers first");
    else if (d->state == STATE_PREPARED) {
        memset(&p, 0, sizeof(p));
        if (!asiojack_session_call(d, ASIOJACK_UNIX_START, &p, "start"))
            r = ASE_HWMalfunction;
        else if (!asiojack_thread_start(d)) {
            asiojack_fail(d, ASE_HWMalfunction,
                          "start: cannot create the callback thread (error %lu)",
                          (unsigned long)GetLastError());
            memset(&p, 0, sizeof(p));
            asiojack_session_call(d, ASIOJACK_UNIX_STOP, &p, "stop");
            r = ASE_HWMalfunction;
        } else
            d->state = STATE_RUNNING;
    }
    LeaveCriticalSection(&d->lock);
    return r;
}

static ASIOError stop_stream(struct asiojack_driver *d)
{
    EnterCriticalSection(&d->lock);
    if (d->state == STATE_RUNNING)
        asiojack_do_stop(d);
    LeaveCriticalSection(&d->lock);
    return ASE_OK;
}

IASIO_METHOD(start, NEED_CONTROL, start_stream, (struct asiojack_driver *d), (d))
IASIO_METHOD(stop, NEED_CONTROL, stop_stream, (struct asiojack_driver *d), (d))

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
    driver_getChannels,
    driver_getLatencies,
    driver_getBufferSize,
    driver_canSampleRate,
    driver_getSampleRate,
    driver_setSampleRate,
    driver_getClockSources,
    driver_setClockSource,
    driver_getSamplePosition,
    driver_getChannelInfo,
    driver_createBuffers,
    driver_disposeBuffers,
    driver_controlPanel,
    driver_future,
    driver_outputReady,
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
    InitializeSRWLock(&d->shm_lock);
    asiojack_module_ref();
    HRESULT hr = driver_query_interface(d, riid, out);
    driver_release(d); /* the query's reference is the caller's */
    return hr;
}
