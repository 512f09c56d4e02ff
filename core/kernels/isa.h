// Instruction-set selection for the lookup-table kernels. The kernels are compiled with
// function-level target attributes, so every variant exists in every build (also with
// QCNN_NATIVE=OFF); which one runs is decided at run time from the CPU's features.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

namespace qcnn {

enum class KernelIsa {
    Auto,      // the best variant this CPU supports
    Portable,  // plain C++ (always available; the fallback CI tests)
    Avx2,      // AVX2: 256-bit vpshufb scans, 32 output channels per block
    Avx512,    // AVX-512 F/BW/VL: 512-bit vpshufb scans, 64 channels per block; with
               // AVX512-VBMI also the vpermb / vpermi2b scans for 16 < K <= 256
    Avx512Vnni,  // AVX-512 F/BW/VL + VBMI + VNNI: K <= 16 scans that look up 4 terms with one
                 // vpermb and sum them with one vpdpbusd; K > 16 as Avx512
};

struct CpuFeatures {
    bool avx2 = false;
    bool avx512 = false;      // F + BW + VL (with OS support for the ZMM state)
    bool avx512vbmi = false;  // vpermb / vpermi2b
    bool avx512vnni = false;  // vpdpbusd
};

// Detected once (__builtin_cpu_supports).
const CpuFeatures& cpu_features();

bool isa_supported(KernelIsa isa);
// Auto -> the best supported variant; a supported explicit variant -> itself. Throws
// qcnn::Error naming the variant when an explicit one is not supported by this CPU.
KernelIsa resolve_isa(KernelIsa isa);
// Every concrete variant this CPU runs, Portable first, best last.
std::vector<KernelIsa> supported_isas();

const char* isa_name(KernelIsa isa);  // "auto", "portable", "avx2", "avx512", "avx512vnni"
std::optional<KernelIsa> parse_isa(std::string_view name);

}  // namespace qcnn
