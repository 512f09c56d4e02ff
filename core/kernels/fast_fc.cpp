#include "core/kernels/fast_fc.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/kernels/scan.h"
#include "core/util/error.h"

namespace qcnn {
namespace {

// The calling thread's buffers of a run (the team shares them).
struct RunBuffers {
    Scratch<uint8_t> lutq;           // planes x rows x M x Kp 8-bit tables + read pad
    Scratch<float> scale, offset_sum;  // per vector
    Scratch<float> xt, off;          // one vector's transposed input and row minima (calling thread)
    Scratch<const uint8_t*> ptrs;    // per vector: its tables
};

int team_size(int threads, int64_t items) {
    return static_cast<int>(std::clamp<int64_t>(items, 1, std::max(threads, 1)));
}

}  // namespace

FastFc::FastFc(const LutGeometry& geo, std::span<const float> codebooks, CodeView codes,
               std::span<const float> bias, KernelIsa isa, LutPrecision precision)
    : geo_(geo) {
    if (geo.groups != 1 || geo.kernel_h != 1 || geo.kernel_w != 1)
        fail("FastFc: an FC layer has groups 1 and a 1x1 kernel, got groups ", geo.groups, ", kernel ",
             geo.kernel_h, "x", geo.kernel_w);
    geo_.validate("FastFc", codebooks, codes, bias);
    isa_ = resolve_isa(isa);
    method_ = choose_lut_method(geo_.K, isa_);
    kp_ = lut_row_length(method_, geo_.K);
    const int64_t M = geo_.subspaces();
    precision_ = resolve_lut_precision(precision, geo_.K, M);
    if (precision_ == LutPrecision::Bits16 && M > kMaxLutTerms16)
        fail("FastFc: 16-bit tables allow at most ", kMaxLutTerms16, " terms per output, the layer has ", M);
    dt_ = transpose_codebooks(codebooks, M, geo_.K, geo_.dsub, kp_);
    bias_.assign(geo_.out_channels, 0.0f);
    std::copy(bias.begin(), bias.end(), bias_.begin());
    has_bias_ = !bias.empty();
    const bool scanned = method_ != LutMethod::Float;
    block_ = scanned ? lut_scan::block_width(isa_) : 0;
    codes_ = lut_scan::CodeStore(codes, geo_.out_channels, 1, 1, M, block_,
                                 scanned ? lut_scan::code_layout(isa_, method_) : lut_scan::CodeLayout::Plain);
}

std::vector<float> FastFc::codebooks() const {
    return untranspose_codebooks(dt_, geo_.subspaces(), geo_.K, geo_.dsub, kp_);
}

int64_t FastFc::weight_bytes() const {
    return codes_.bytes() + static_cast<int64_t>((dt_.size() + bias_.size()) * sizeof(float));
}

int64_t FastFc::lut_bytes(int64_t rows) const {
    const int64_t M = geo_.subspaces();
    if (method_ == LutMethod::Float) return rows * M * kp_ * 4;
    const int planes = lut_planes(precision_);
    return rows * (planes * M * kp_ + 8) + lut_scan::kLutReadPad + (geo_.in_channels + M) * 4;  // tables, scales, scratch
}

void FastFc::transpose_input(const float* x, int64_t m0, int64_t m1, float* xt) const {
    const int64_t M = geo_.subspaces(), dsub = geo_.dsub;
    for (int64_t l = 0; l < dsub; ++l)
        for (int64_t m = m0; m < m1; ++m) xt[l * M + m] = x[m * dsub + l];
}

void FastFc::sample_lut(const float* x, float* xt, float* off, uint8_t* q, uint8_t* lo, float* scale,
                        float* offset_sum) const {
    const int64_t M = geo_.subspaces();
    transpose_input(x, 0, M, xt);
    const LutRange range = lut_minima_subspaces(xt, dt_.data(), M, 0, M, geo_.dsub, geo_.K, kp_, off);
    if (!range.finite) {
        std::fill(q, q + M * kp_, uint8_t(0));
        if (lo) std::fill(lo, lo + M * kp_, uint8_t(0));
        *scale = 1.0f;
        *offset_sum = std::numeric_limits<float>::quiet_NaN();
        return;
    }
    *scale = lut_scale(range.max_range, lut_levels(precision_));
    quantize_lut_rows(x, 1, 1, dt_.data(), M, 0, M, geo_.dsub, geo_.K, kp_, off, 1, *scale, q, lo);
    *offset_sum = sum_lut_offsets(off, M);
}

void FastFc::run(const float* x, int64_t rows, float* y, int threads, LutTrace* trace) const {
    if (rows <= 0) return;
    if (method_ == LutMethod::Float) {
        run_float(x, rows, y, threads);
        if (trace) *trace = {};
        return;
    }
    const int64_t M = geo_.subspaces(), cs = geo_.in_channels, ct = geo_.out_channels;
    const int64_t Kp = kp_, B = block_, nblocks = (ct + B - 1) / B;
    // Buffers kept per thread across calls (steady-state runs allocate nothing).
    static thread_local RunBuffers buffers;
    Scratch<uint8_t>& lutq = buffers.lutq;
    Scratch<float>& scale = buffers.scale;
    Scratch<float>& offset_sum = buffers.offset_sum;
    Scratch<float>& shared_xt = buffers.xt;
    Scratch<float>& shared_off = buffers.off;
    Scratch<const uint8_t*>& ptrs = buffers.ptrs;
    // Bits16: the low plane follows the high plane (pointers into the high plane; its scan
    // adds `plane` to them).
    const bool wide = precision_ == LutPrecision::Bits16;
    const int64_t plane = rows * M * Kp, planes = wide ? 2 : 1;
    lutq.resize(planes * plane + lut_scan::kLutReadPad);
    std::fill(lutq.data() + planes * plane, lutq.data() + planes * plane + lut_scan::kLutReadPad, uint8_t(0));
    auto low = [&](int64_t n) { return wide ? lutq.data() + plane + n * M * Kp : nullptr; };
    scale.resize(rows);
    offset_sum.resize(rows);
    ptrs.resize(rows);
    for (int64_t n = 0; n < rows; ++n) ptrs[n] = lutq.data() + n * M * Kp;
    if (trace) {
        trace->acc.assign(rows * ct, 0);
        trace->scale.assign(rows, 0.0f);
    }

    const int team = team_size(threads, std::max(rows, nblocks));
    // Tables: vectors split over the team, or (fewer vectors than threads) built by the calling
    // thread before the team starts: a vector's table costs C_s * K multiply-adds against the
    // scan's C_t * M lookups, and a second parallel phase would add barriers, which cost whole
    // scheduler time slices on a loaded machine.
    const bool split_vectors = rows >= team;
    if (!split_vectors) {
        shared_xt.resize(cs);
        shared_off.resize(M);
        for (int64_t n = 0; n < rows; ++n)
            sample_lut(x + n * cs, shared_xt.data(), shared_off.data(), lutq.data() + n * M * Kp, low(n), &scale[n],
                       &offset_sum[n]);
    }

#pragma omp parallel num_threads(team) if (team > 1)
    {
        if (split_vectors) {
            static thread_local Scratch<float> xt, off;
            xt.resize(cs);
            off.resize(M);
#pragma omp for schedule(static)
            for (int64_t n = 0; n < rows; ++n)
                sample_lut(x + n * cs, xt.data(), off.data(), lutq.data() + n * M * Kp, low(n), &scale[n],
                           &offset_sum[n]);
        }

        static thread_local Scratch<uint32_t> acc, acc_lo;
        acc.resize(B * rows);
        if (wide) acc_lo.resize(B * rows);
#pragma omp for schedule(static)
        for (int64_t bi = 0; bi < nblocks; ++bi) {
            lut_scan::ScanJob job;
            job.codes = codes_.block(bi);
            job.luts = ptrs.data();
            job.rows = rows;
            job.taps = 1;
            job.terms = M;
            job.acc = acc.data();
            job.acc_stride = rows;
            lut_scan::scan(isa_, method_, job);
            if (wide) {
                job.lut_offset = plane;
                job.acc = acc_lo.data();
                lut_scan::scan(isa_, method_, job);
                combine_lut_planes(acc.data(), acc_lo.data(), B * rows);
            }
            const int64_t c0 = bi * B, nc = std::min(B, ct - c0);
            for (int64_t n = 0; n < rows; ++n) {
                finish_lut_row(acc.data() + n, rows, nc, 1.0f / scale[n], offset_sum[n], bias_.data() + c0,
                               y + n * ct + c0);
                if (trace)
                    for (int64_t c = 0; c < nc; ++c) trace->acc[n * ct + c0 + c] = acc[c * rows + n];
            }
        }
    }
    if (trace) std::copy(scale.data(), scale.data() + rows, trace->scale.begin());
}

void FastFc::run_reference(const float* x, int64_t rows, float* y, LutTrace* trace) const {
    const int64_t M = geo_.subspaces(), K = geo_.K, cs = geo_.in_channels, ct = geo_.out_channels;
    if (trace) *trace = {};
    const std::vector<uint8_t> codes = codes_.unpack();
    if (method_ == LutMethod::Float) {
        std::vector<float> lut(M * K);
        for (int64_t n = 0; n < rows; ++n) {
            build_lut_rows(x + n * cs, 1, 1, dt_.data(), M, 0, M, geo_.dsub, K, lut.data());
            for (int64_t c = 0; c < ct; ++c) {
                float acc = 0.0f;
                for (int64_t m = 0; m < M; ++m) acc += lut[m * K + codes[c * M + m]];
                y[n * ct + c] = acc + bias_[c];
            }
        }
        return;
    }
    const int64_t Kp = kp_;
    const bool wide = precision_ == LutPrecision::Bits16;
    std::vector<float> xt(cs), off(M);
    std::vector<uint8_t> q(M * Kp), lo(wide ? M * Kp : 0);
    std::vector<uint32_t> acc(ct);
    for (int64_t n = 0; n < rows; ++n) {
        float scale, offset_sum;
        sample_lut(x + n * cs, xt.data(), off.data(), q.data(), wide ? lo.data() : nullptr, &scale, &offset_sum);
        for (int64_t c = 0; c < ct; ++c) {
            uint32_t a = 0;
            for (int64_t m = 0; m < M; ++m) {
                const int64_t e = m * Kp + codes[c * M + m];
                a += wide ? (uint32_t(q[e]) << 8) + lo[e] : q[e];
            }
            acc[c] = a;
        }
        finish_lut_row(acc.data(), 1, ct, 1.0f / scale, offset_sum, bias_.data(), y + n * ct);
        if (trace) {
            trace->acc.insert(trace->acc.end(), acc.begin(), acc.end());
            trace->scale.push_back(scale);
        }
    }
}

void FastFc::run_float(const float* x, int64_t rows, float* y, int threads) const {
    const int64_t M = geo_.subspaces(), K = geo_.K, cs = geo_.in_channels, ct = geo_.out_channels;
    static thread_local Scratch<float> lut_buffer;  // the calling thread's, shared by the team
    lut_buffer.resize(rows * M * K);
    float* const lut = lut_buffer.data();
    const int team = team_size(threads, std::max<int64_t>(rows, ct / 64));
    const int64_t mchunks = std::min<int64_t>(M, 4 * team);
#pragma omp parallel num_threads(team) if (team > 1)
    {
#pragma omp for schedule(static) collapse(2)
        for (int64_t n = 0; n < rows; ++n)
            for (int64_t ch = 0; ch < mchunks; ++ch) {
                const int64_t m0 = M * ch / mchunks, m1 = M * (ch + 1) / mchunks;
                build_lut_rows(x + n * cs, 1, 1, dt_.data(), M, m0, m1, geo_.dsub, K, lut + n * M * K);
            }
#pragma omp for schedule(static) collapse(2)
        for (int64_t n = 0; n < rows; ++n)
            for (int64_t c = 0; c < ct; ++c) {
                const float* ln = lut + n * M * K;
                const uint8_t* code = codes_.data() + c * M;
                float acc = 0.0f;
                for (int64_t m = 0; m < M; ++m) acc += ln[m * K + code[m]];
                y[n * ct + c] = acc + bias_[c];
            }
    }
}

}  // namespace qcnn
