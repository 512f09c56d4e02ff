// `qcnn demo` runs the shared presets (core/cost/presets.h), fitted to the model, and prints
// each preset's notes for the layers it keeps dense (issue 16's GUI/CLI preset drift).
#include <gtest/gtest.h>

#include "cli_test_util.h"
#include "core/cost/presets.h"
#include "core/eval/model_summary.h"

namespace qcnn {
namespace {

TEST(CliDemo, RunsTheSharedPresetsFittedToTheModel) {
    const std::string model = test::bundled("vgg7.onnx");
    const auto r = test::run_qcnn({"demo", "--model", model, "--limit", "64", "--threads", "2"});
    ASSERT_EQ(r.rc, 0) << r.err;
    const auto net = load_model(model);
    int rows = 0;
    for (const Preset& p : presets()) {
        if (p.settings.empty()) continue;
        const AppliedPreset a = apply_preset(*net, p);
        EXPECT_NE(r.out.find("  done: " + a.settings + "\n"), std::string::npos) << a.settings << "\n" << r.out;
        for (const PresetLayerNote& n : a.notes)
            EXPECT_NE(r.out.find(p.name + ": " + n.alias + " " + n.note + "\n"), std::string::npos) << r.out;
        ++rows;
    }
    EXPECT_EQ(rows, 4);
    // The paper's FC 4/32 would make VGG-7's 10-output classifier slower and larger.
    EXPECT_NE(r.out.find("Paper (conv 8/128, FC 4/32): fc2 kept dense: 4/32 would give 0.29x speed-up, 0.31x compression"),
              std::string::npos)
        << r.out;
}

}  // namespace
}  // namespace qcnn
