// Included at the end of each generated wrapper translation unit (after the kernel source): turns
// SK_EMU_REGISTER(name) into a static registration of kernel `name` with a thunk that unpacks the
// cuLaunchKernel-style void** argument array by the kernel's parameter types.
#pragma once
#include "sk_emu_api.h"
#include <cstring>
#include <type_traits>
#include <utility>

namespace sk_emu_register_detail {
template <typename T> SK_EMU_NOSAN inline T arg(void* slot)
{
    static_assert(sizeof(T) <= 8, "kernel parameters are passed in 8-byte KernelArgs slots: at most 8 bytes each");
    static_assert(std::is_trivially_copyable<T>::value, "kernel parameters must be trivially copyable");
    T v;
    std::memcpy(&v, slot, sizeof(T));
    return v;
}
template <typename... P, std::size_t... I>
SK_EMU_NOSAN inline void invoke(void (*kernel)(P...), void** args, std::index_sequence<I...>)
{
    kernel(arg<std::remove_cv_t<std::remove_reference_t<P>>>(args[I])...);
}
template <typename... P> constexpr int param_count(void (*)(P...)) { return sizeof...(P); }
template <typename... P> SK_EMU_NOSAN inline void call(void (*kernel)(P...), void** args) { invoke(kernel, args, std::index_sequence_for<P...>{}); }
static SK_EMU_NOSAN void* tls_anchor()
{
    static thread_local char anchor;
    return &anchor;
}
} // namespace sk_emu_register_detail

// A wrapper whose .cu declares literal `extern __shared__ T name[]` arrays defines sk_emu_dynamic_area()
// and SK_EMU_DYNAMIC_AREA before including this header.
#ifdef SK_EMU_DYNAMIC_AREA
#define SK_EMU_DYNAMIC_AREA_GETTER (&sk_emu_dynamic_area)
#else
#define SK_EMU_DYNAMIC_AREA_GETTER nullptr
#endif

#define SK_EMU_REGISTER(name)                                                                                       \
    namespace {                                                                                                     \
    struct sk_emu_registrar_##name                                                                                  \
    {                                                                                                               \
        static SK_EMU_NOSAN void thunk(void** args) { sk_emu_register_detail::call(&name, args); }                  \
        sk_emu_registrar_##name()                                                                                   \
        {                                                                                                           \
            sk_emu_register_kernel(#name, &thunk, sk_emu_register_detail::param_count(&name),                        \
                &sk_emu_register_detail::tls_anchor, __FILE__, SK_EMU_DYNAMIC_AREA_GETTER);                                                     \
        }                                                                                                           \
    } sk_emu_registrar_instance_##name;                                                                             \
    }
