// Pixel-level conversions shared by the dataset readers. Planes are row-major float32.
#pragma once

#include <cstdint>

namespace qcnn {

// Bilinear resize of one plane, src h x w -> dst oh x ow (all >= 1), sampling like
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False, antialias=False):
// source coordinate (d + 0.5) * (in / out) - 0.5, clamped at 0 and at the last row/column.
void resize_bilinear(const float* src, int64_t h, int64_t w, float* dst, int64_t oh, int64_t ow);

// True when convert_channels can map c channels to oc (equal, 1 -> 3 or 3 -> 1).
bool can_convert_channels(int64_t c, int64_t oc);

// Converts one C x HW image (planar, channel-major) to oc channels: equal counts copy,
// 1 -> 3 replicates the plane, 3 -> 1 computes luma 0.299 R + 0.587 G + 0.114 B (ITU-R 601-2,
// as PIL's convert("L")). Requires can_convert_channels(c, oc); src and dst must not overlap.
void convert_channels(const float* src, int64_t c, int64_t hw, float* dst, int64_t oc);

}  // namespace qcnn
