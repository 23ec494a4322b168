/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hostilehost.c: an ASIO host that does what hosts should not, run under
 * Wine, one misdeed per run (issue 9, item 11):
 *
 *   factory          QueryInterface on the class factory, Released like
 *                    any interface pointer, while a driver lives: the DLL
 *                    must still refuse to unload (DllCanUnloadNow)
 *   is-input         getChannelInfo with isInput neither ASIOTrue nor
 *                    ASIOFalse
 *   stop-in-callback the main thread calls stop() while bufferSwitch, on
 *                    the driver's thread, calls stop() and disposeBuffers
 *                    too: must not deadlock
 *   release-in-callback  the host drops its last reference inside
 *                    bufferSwitch, stays in there a while, and meanwhile
 *                    its main thread asks COM to unload unused DLLs
 *   query-race       a second thread asks queries without pause while the
 *                    main thread answers reset requests (the test edits
 *                    the configuration) with stop, disposeBuffers (which
 *                    re-opens the session: a new segment) and createBuffers
 *   stall            the 20th bufferSwitch hangs for a second (issue 9,
 *                    item 6): the host must be told kAsioOverload once
 *                    when it comes back (not once per cycle it slept
 *                    through), and the stream must come back after it
 *
 *   hostilehost.exe MODE
 *
 * One JSON object per line; the last is the result; exit code 0 = ok.  A
 * watchdog ends a run that hangs with "result": "hang".
 */
#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "../../winedll/asio.h"
#include "iasio_host.h"
#include "jsonline.h"

static int failures;
static iasio *drv;

static void check(const char *name, int ok, long value)
{
    if (!ok)
        failures++;
    emit("\"check\": %S, \"ok\": %s, \"value\": %ld", name, ok ? "true" : "false", value);
}

static void finish(const char *result)
{
    emit("\"result\": %S, \"failures\": %d", failures && !strcmp(result, "ok") ? "fail" : result,
         failures);
    fflush(stdout);
    TerminateProcess(GetCurrentProcess(), (UINT)(failures || strcmp(result, "ok") ? 1 : 0));
}

static DWORD WINAPI watchdog(void *arg)
{
    Sleep((DWORD)(uintptr_t)arg);
    finish("hang");
    return 0;
}

static int open_driver(void)
{
    HRESULT hr = CoCreateInstance(&clsid_asiojack, NULL, CLSCTX_INPROC_SERVER, &clsid_asiojack,
                                  (void **)&drv);
    check("create", SUCCEEDED(hr) && drv, (long)hr);
    if (FAILED(hr) || !drv)
        return 0;
    int ok = drv->m->init(drv, NULL) == ASIOTrue;
    check("init", ok, 0);
    return ok;
}

/* --- streaming with a misbehaving bufferSwitch ---------------------------- */

static ASIOBufferInfo infos[2];
static LONG frames;
static volatile LONG switches;
static HANDLE in_callback, callback_done;
static volatile LONG callback_stop = 1, callback_dispose = 1;
static volatile LONG released_refs = -1;
/* The stall's aftermath: the few bufferSwitch calls after the stalled one
 * (kAsioOverload is told after the bufferSwitch of the cycle it comes with). */
#define STALL_AT 20
#define AFTERMATH 3
static volatile LONG overloads, overloads_at_return, switches_at_overload = -1;
static volatile LONG resets_asked, querying = 1, queries;
static const char *mode;

static void buffer_switch(int32_t index, ASIOBool direct)
{
    (void)direct;
    memcpy(infos[1].buffers[index], infos[0].buffers[index], (size_t)frames * 4);
    LONG n = InterlockedIncrement(&switches);
    if (!strcmp(mode, "stall")) {
        if (n == STALL_AT)
            Sleep(1000);
        return;
    }
    if (n != 5)
        return;
    if (!strcmp(mode, "stop-in-callback")) {
        SetEvent(in_callback);
        Sleep(500); /* the main thread is inside stop() by now, joining us */
        callback_stop = drv->m->stop(drv);
        callback_dispose = drv->m->disposeBuffers(drv);
    } else if (!strcmp(mode, "release-in-callback")) {
        released_refs = (LONG)drv->m->Release(drv);
        SetEvent(in_callback);
        Sleep(500); /* COM may unload unused DLLs meanwhile */
        /* A host may still touch its buffers until it returns. */
        memset(infos[1].buffers[index], 0, (size_t)frames * 4);
    }
    SetEvent(callback_done);
}

static int32_t asio_message(int32_t selector, int32_t value, void *message, double *opt)
{
    (void)message, (void)opt;
    if (selector == kAsioSelectorSupported)
        return value == kAsioResetRequest || value == kAsioOverload;
    if (selector == kAsioResetRequest) {
        InterlockedIncrement(&resets_asked);
        return 1;
    }
    if (selector == kAsioOverload) {
        /* Misses before the stall (a loaded machine) are told too: only
         * the ones after it are the stall's. */
        LONG at = switches;
        InterlockedIncrement(&overloads);
        if (at >= STALL_AT && switches_at_overload < 0)
            switches_at_overload = at;
        if (at >= STALL_AT && at <= STALL_AT + AFTERMATH)
            InterlockedIncrement(&overloads_at_return);
    }
    return 0;
}

static ASIOCallbacks callbacks = {buffer_switch, NULL, asio_message, NULL};

static int stream(void)
{
    LONG mn, mx, gran;
    drv->m->getBufferSize(drv, &mn, &mx, &frames, &gran);
    infos[0] = (ASIOBufferInfo){ASIOTrue, 0, {NULL, NULL}};
    infos[1] = (ASIOBufferInfo){ASIOFalse, 0, {NULL, NULL}};
    ASIOError r = drv->m->createBuffers(drv, infos, 2, frames, &callbacks);
    check("create-buffers", r == ASE_OK, r);
    if (r != ASE_OK)
        return 0;
    r = drv->m->start(drv);
    check("start", r == ASE_OK, r);
    return r == ASE_OK;
}

static void stop_in_callback(void)
{
    if (!open_driver() || !stream())
        return;
    WaitForSingleObject(in_callback, INFINITE);
    ASIOError r = drv->m->stop(drv);
    check("main-stop", r == ASE_OK, r);
    WaitForSingleObject(callback_done, INFINITE);
    /* Refused (the stream is being stopped by the main thread), or done if
     * the main thread came late: never a wait for itself. */
    check("callback-stop-returned", callback_stop == ASE_OK || callback_stop == ASE_InvalidMode,
          callback_stop);
    check("callback-dispose-returned",
          callback_dispose == ASE_OK || callback_dispose == ASE_InvalidMode, callback_dispose);
    r = drv->m->disposeBuffers(drv);
    check("dispose-after", r == ASE_OK || r == ASE_InvalidMode, r);
    /* The driver still works afterwards. */
    check("restream", stream(), 0);
    drv->m->stop(drv);
    drv->m->disposeBuffers(drv);
    check("release", drv->m->Release(drv) == 0, 0);
}

static void release_in_callback(void)
{
    if (!open_driver() || !stream())
        return;
    WaitForSingleObject(in_callback, INFINITE);
    check("released-to-zero", released_refs == 0, released_refs);
    /* What a host's housekeeping does: unload what COM thinks is unused,
     * at once.  The driver's thread is still inside our bufferSwitch. */
    CoFreeUnusedLibrariesEx(0, 0);
    WaitForSingleObject(callback_done, INFINITE);
    Sleep(500); /* the driver's thread returns into the driver and ends */
    CoFreeUnusedLibrariesEx(0, 0);
    check("survived", 1, 0);
}

static DWORD WINAPI query_loop(void *arg)
{
    (void)arg;
    while (InterlockedCompareExchange(&querying, 0, 0)) {
        LONG a, b, c, g;
        ASIOChannelInfo ci = {.channel = 0, .isInput = ASIOTrue};
        double rate;
        drv->m->getChannels(drv, &a, &b);
        drv->m->getChannelInfo(drv, &ci);
        drv->m->getLatencies(drv, &a, &b);
        drv->m->getBufferSize(drv, &a, &b, &c, &g);
        drv->m->getSampleRate(drv, &rate);
        InterlockedIncrement(&queries);
    }
    return 0;
}

static void query_race(void)
{
    if (!open_driver() || !stream())
        return;
    HANDLE gui = CreateThread(NULL, 0, query_loop, NULL, 0, NULL);
    LONG handled = 0;
    DWORD t0 = GetTickCount();
    emit("\"event\": \"racing\"");
    while (handled < 12 && GetTickCount() - t0 < 25000) {
        if (InterlockedCompareExchange(&resets_asked, 0, 0) == handled) {
            Sleep(5);
            continue;
        }
        handled++;
        drv->m->stop(drv);
        ASIOError r = drv->m->disposeBuffers(drv);
        check("dispose", r == ASE_OK, r);
        check("restream", stream(), handled);
    }
    InterlockedExchange(&querying, 0);
    WaitForSingleObject(gui, INFINITE);
    check("resets-handled", handled == 12, handled);
    emit("\"event\": \"queries\", \"count\": %ld", (long)queries);
    drv->m->stop(drv);
    drv->m->disposeBuffers(drv);
    drv->m->Release(drv);
}

static void stall(void)
{
    if (!open_driver() || !stream())
        return;
    DWORD t0 = GetTickCount();
    while (switches < 300 && GetTickCount() - t0 < 15000)
        Sleep(50);
    /* Told when the host came back from its stall, once for the whole
     * stall, and streaming on. */
    check("overload-told", overloads >= 1, overloads);
    check("told-after-the-stall", switches_at_overload >= STALL_AT, switches_at_overload);
    check("told-once-for-the-stall", overloads_at_return == 1, overloads_at_return);
    check("streams-after-the-stall", switches >= 300, switches);
    drv->m->stop(drv);
    drv->m->disposeBuffers(drv);
    check("release", drv->m->Release(drv) == 0, 0);
}

/* --- the class factory ---------------------------------------------------- */

static void factory(void)
{
    static const GUID iid_unknown = {0, 0, 0, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};
    static const GUID iid_factory = {1, 0, 0, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};
    HMODULE dll = LoadLibraryA("asiojack.dll");
    check("load", dll != NULL, (long)GetLastError());
    if (!dll)
        return;
    HRESULT(WINAPI * get_class)(REFCLSID, REFIID, void **) =
        (void *)GetProcAddress(dll, "DllGetClassObject");
    HRESULT(WINAPI * can_unload)(void) = (void *)GetProcAddress(dll, "DllCanUnloadNow");
    IClassFactory *f = NULL;
    IUnknown *u = NULL;
    iasio *d = NULL;
    HRESULT hr = get_class(&clsid_asiojack, &iid_factory, (void **)&f);
    check("class-object", SUCCEEDED(hr) && f, (long)hr);
    if (!f)
        return;
    hr = f->lpVtbl->QueryInterface(f, &iid_unknown, (void **)&u);
    check("query-interface", SUCCEEDED(hr) && u, (long)hr);
    hr = f->lpVtbl->CreateInstance(f, NULL, &clsid_asiojack, (void **)&d);
    check("create-instance", SUCCEEDED(hr) && d, (long)hr);
    /* Both interface pointers are given back, as COM's rules say. */
    u->lpVtbl->Release(u);
    f->lpVtbl->Release(f);
    /* A driver object lives: the DLL must not be unloadable. */
    hr = can_unload();
    check("cannot-unload-while-a-driver-lives", hr == S_FALSE, (long)hr);
    if (d)
        d->m->Release(d);
    hr = can_unload();
    check("can-unload-after", hr == S_OK, (long)hr);
}

static void is_input(void)
{
    if (!open_driver())
        return;
    static const ASIOBool odd[] = {2, -1, 0x100};
    for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
        ASIOChannelInfo ci;
        memset(&ci, 0, sizeof(ci));
        ci.channel = 0;
        ci.isInput = odd[i];
        ASIOError r = drv->m->getChannelInfo(drv, &ci);
        check("odd-is-input-refused", r == ASE_InvalidParameter, (long)odd[i]);
    }
    ASIOChannelInfo ci = {.channel = 0, .isInput = ASIOTrue};
    check("true-is-input-works", drv->m->getChannelInfo(drv, &ci) == ASE_OK, 0);
    drv->m->Release(drv);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: hostilehost.exe MODE\n");
        return 2;
    }
    mode = argv[1];
    CoInitialize(NULL);
    in_callback = CreateEventA(NULL, TRUE, FALSE, NULL);
    callback_done = CreateEventA(NULL, TRUE, FALSE, NULL);
    CloseHandle(CreateThread(NULL, 0, watchdog, (void *)(uintptr_t)30000, 0, NULL));
    if (!strcmp(mode, "factory"))
        factory();
    else if (!strcmp(mode, "is-input"))
        is_input();
    else if (!strcmp(mode, "stop-in-callback"))
        stop_in_callback();
    else if (!strcmp(mode, "release-in-callback"))
        release_in_callback();
    else if (!strcmp(mode, "stall"))
        stall();
    else if (!strcmp(mode, "query-race"))
        query_race();
    else {
        emit("\"error\": \"unknown mode\"");
        failures++;
    }
    finish("ok");
    return 0;
}
