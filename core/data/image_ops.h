// Pixel-level conversions shared by the dataset readers: float32 planes (row-major) for the
// generic conversions, uint8 images for the Pillow-compatible resize + crop.
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

// ---- torchvision's Resize(size) + CenterCrop(crop) on PIL images ----------------------------
//
// Resampling is Pillow's Image.resize(..., Image.BILINEAR) on 8-bit images, reproduced
// bit-exactly: a triangle filter whose support widens with the downscale factor (so
// downscaling is antialiased: every source pixel under the output pixel's footprint counts),
// weights normalised per output pixel and rounded to 22-bit fixed point, a horizontal pass
// rounded to uint8, then a vertical pass rounded to uint8 (Pillow's Resample.c). Upscaling is
// plain bilinear with half-pixel centres. Checked against torchvision 0.14 / Pillow 9.4:
// tests/data/imagenet_preprocess_golden.txt (tools/check_imagenet_preprocess.py).

// The part of a resized image a center crop keeps. Output pixel (y, x) of the crop, y < ch,
// x < cw, is pixel (top + y, left + x) of the rh x rw resized image, or 0 (zero padding, as
// torchvision's center_crop pads) where that lies outside it.
struct ResizeCrop {
    int64_t rh = 0, rw = 0;       // resized size
    int64_t top = 0, left = 0;    // crop origin in the resized image (negative: zero padding)
    int64_t ch = 0, cw = 0;       // crop size
};

// torchvision.transforms.Resize(resize) (short side -> resize, long side -> int(resize * long /
// short)) followed by CenterCrop(crop) (origin round-half-even((n - crop) / 2) per axis, or
// zero padding of (crop - n) // 2 before when the image is smaller) for an h x w image.
ResizeCrop resize_center_crop(int64_t h, int64_t w, int64_t resize, int64_t crop);

// Resizes src (h x w x c uint8, interleaved, row-major) to g.rh x g.rw like Pillow's bilinear
// resize and writes the crop window planar (c x g.ch x g.cw uint8, row-major) to dst. Only the
// rows and columns the crop needs are computed.
void resize_crop_pil(const uint8_t* src, int64_t h, int64_t w, int64_t c, const ResizeCrop& g, uint8_t* dst);

// Reference twin of resize_crop_pil: every output pixel computed on its own, straight from
// Pillow's definitions (no tables, no skipped rows). Same bits; slow; for tests.
void resize_crop_pil_reference(const uint8_t* src, int64_t h, int64_t w, int64_t c, const ResizeCrop& g,
                               uint8_t* dst);

}  // namespace qcnn
