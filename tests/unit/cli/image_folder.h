// A two-class image folder (folder:DIR) of generated PNGs, for the CLI suites that read image
// folders.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "tests/unit/png_writer.h"

namespace qcnn::test {

// Two classes (class0/, class1/) of `per_class` w x h images with `comp` channels under dir.
inline void write_image_folder(const std::string& dir, int w, int h, int comp, int per_class) {
    for (int k = 0; k < 2; ++k)
        for (int i = 0; i < per_class; ++i) {
            std::vector<uint8_t> px(static_cast<size_t>(w * h * comp));
            for (size_t j = 0; j < px.size(); ++j) px[j] = static_cast<uint8_t>(j * 7 + i * 31 + k * 101);
            write_png(dir + "/class" + std::to_string(k) + "/" + std::to_string(i) + ".png", w, h, comp, px);
        }
}

}  // namespace qcnn::test
