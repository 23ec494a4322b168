/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * main.c: the DLL's COM plumbing: entry point, class factory,
 * DllGetClassObject and DllCanUnloadNow.
 */
#include <string.h>

#include "driver.h"

const GUID asiojack_clsid = {
    0x214671f4, 0x47f6, 0x4a5b, {0xb9, 0x21, 0x2b, 0x3e, 0x3c, 0x5b, 0x5f, 0x59}};

/* The CLSID WineASIO registers, {48D0C522-BFCC-45CC-8B84-17F25F33E6E8}.
 * `asiojack register --as-wineasio` points it at this DLL, so setups that
 * ask COM for WineASIO by CLSID get asiojack: the factory and the driver's
 * QueryInterface (hosts pass the CLSID as the interface id) answer both. */
const GUID asiojack_wineasio_clsid = {
    0x48d0c522, 0xbfcc, 0x45cc, {0x8b, 0x84, 0x17, 0xf2, 0x5f, 0x33, 0xe6, 0xe8}};

/* Declared here rather than taken from libuuid, so the link needs nothing
 * beyond kernel32 and advapi32. */
static const GUID iid_unknown = {
    0x00000000, 0x0000, 0x0000, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};
static const GUID iid_class_factory = {
    0x00000001, 0x0000, 0x0000, {0xc0, 0, 0, 0, 0, 0, 0, 0x46}};

static HMODULE module;
/* Live driver objects plus LockServer locks: the DLL stays while > 0. */
static volatile LONG module_refs;

HMODULE asiojack_module(void)
{
    return module;
}

void asiojack_module_ref(void)
{
    InterlockedIncrement(&module_refs);
}

void asiojack_module_unref(void)
{
    InterlockedDecrement(&module_refs);
}

static BOOL same_guid(REFGUID a, const GUID *b)
{
    return a && memcmp(a, b, sizeof(GUID)) == 0;
}

static HRESULT STDMETHODCALLTYPE factory_query_interface(IClassFactory *self, REFIID riid,
                                                         void **out)
{
    if (!out)
        return E_POINTER;
    if (same_guid(riid, &iid_unknown) || same_guid(riid, &iid_class_factory)) {
        /* COM's rule: what QueryInterface hands out, the caller Releases. */
        self->lpVtbl->AddRef(self);
        *out = self;
        return S_OK;
    }
    *out = NULL;
    return E_NOINTERFACE;
}

/* The factory is a static object: its count only has to look plausible. */
static ULONG STDMETHODCALLTYPE factory_add_ref(IClassFactory *self)
{
    (void)self;
    asiojack_module_ref();
    return 2;
}

static ULONG STDMETHODCALLTYPE factory_release(IClassFactory *self)
{
    (void)self;
    asiojack_module_unref();
    return 1;
}

static HRESULT STDMETHODCALLTYPE factory_create_instance(IClassFactory *self, IUnknown *outer,
                                                         REFIID riid, void **out)
{
    (void)self;
    if (!out)
        return E_POINTER;
    *out = NULL;
    if (outer)
        return CLASS_E_NOAGGREGATION;
    return asiojack_driver_create(riid, out);
}

static HRESULT STDMETHODCALLTYPE factory_lock_server(IClassFactory *self, BOOL lock)
{
    (void)self;
    if (lock)
        asiojack_module_ref();
    else
        asiojack_module_unref();
    return S_OK;
}

static IClassFactoryVtbl factory_vtbl = {
    factory_query_interface, factory_add_ref, factory_release,
    factory_create_instance, factory_lock_server,
};
static IClassFactory factory = {&factory_vtbl};

HRESULT WINAPI DllGetClassObject(REFCLSID clsid, REFIID riid, void **out)
{
    if (!out)
        return E_POINTER;
    *out = NULL;
    if (!same_guid(clsid, &asiojack_clsid) && !same_guid(clsid, &asiojack_wineasio_clsid))
        return CLASS_E_CLASSNOTAVAILABLE;
    return factory_query_interface(&factory, riid, out);
}

HRESULT WINAPI DllCanUnloadNow(void)
{
    return InterlockedCompareExchange(&module_refs, 0, 0) > 0 ? S_FALSE : S_OK;
}

BOOL WINAPI DllMain(HINSTANCE instance, DWORD reason, void *reserved)
{
    (void)reserved;
    if (reason == DLL_PROCESS_ATTACH) {
        module = instance;
        /* The callback thread would otherwise call in here at its start. */
        DisableThreadLibraryCalls(instance);
    }
    return TRUE;
}
