#include "core/kernels/isa.h"

#include "core/util/error.h"

namespace qcnn {

const CpuFeatures& cpu_features() {
    static const CpuFeatures f = [] {
        CpuFeatures c;
        __builtin_cpu_init();
        c.avx2 = __builtin_cpu_supports("avx2");
        c.avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                   __builtin_cpu_supports("avx512vl");
        c.avx512vbmi = c.avx512 && __builtin_cpu_supports("avx512vbmi");
        c.avx512vnni = c.avx512 && __builtin_cpu_supports("avx512vnni");
        return c;
    }();
    return f;
}

bool isa_supported(KernelIsa isa) {
    switch (isa) {
        case KernelIsa::Auto:
        case KernelIsa::Portable: return true;
        case KernelIsa::Avx2: return cpu_features().avx2;
        case KernelIsa::Avx512: return cpu_features().avx512;
        case KernelIsa::Avx512Vnni: return cpu_features().avx512vbmi && cpu_features().avx512vnni;
    }
    return false;
}

KernelIsa resolve_isa(KernelIsa isa) {
    if (isa == KernelIsa::Auto) return supported_isas().back();
    if (!isa_supported(isa)) fail("kernel instruction set '", isa_name(isa), "' is not supported by this CPU");
    return isa;
}

std::vector<KernelIsa> supported_isas() {
    std::vector<KernelIsa> v{KernelIsa::Portable};
    if (cpu_features().avx2) v.push_back(KernelIsa::Avx2);
    if (cpu_features().avx512) v.push_back(KernelIsa::Avx512);
    if (isa_supported(KernelIsa::Avx512Vnni)) v.push_back(KernelIsa::Avx512Vnni);
    return v;
}

const char* isa_name(KernelIsa isa) {
    switch (isa) {
        case KernelIsa::Auto: return "auto";
        case KernelIsa::Portable: return "portable";
        case KernelIsa::Avx2: return "avx2";
        case KernelIsa::Avx512: return "avx512";
        case KernelIsa::Avx512Vnni: return "avx512vnni";
    }
    return "?";
}

std::optional<KernelIsa> parse_isa(std::string_view name) {
    for (KernelIsa i : {KernelIsa::Auto, KernelIsa::Portable, KernelIsa::Avx2, KernelIsa::Avx512, KernelIsa::Avx512Vnni})
        if (name == isa_name(i)) return i;
    return std::nullopt;
}

}  // namespace qcnn
