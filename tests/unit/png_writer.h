// Image fixtures for the suites that read image folders: stb_image_write (Debian libstb-dev),
// compiled into each including test file with static linkage.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>
#pragma GCC diagnostic pop

namespace qcnn::test {

// Writes w x h pixels with `comp` interleaved channels (row-major) as a PNG, creating folders.
inline void write_png(const std::string& path, int w, int h, int comp, const std::vector<uint8_t>& px) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, comp, px.data(), w * comp)) << path;
}

}  // namespace qcnn::test
