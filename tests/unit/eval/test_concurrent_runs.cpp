// run_quantization() on worker threads, the way the workbench runs its jobs: cancelled from
// another thread while error correction runs in parallel, and two runs at once (each with its
// own OpenMP team) giving bit for bit the result of one run alone. Small LeNet-5 runs (a second
// or two each), so the suite stays cheap under ThreadSanitizer (.ci/hardening.sh), which is
// where these tests matter most.
#include <gtest/gtest.h>

#include <atomic>
#include <exception>
#include <future>
#include <optional>
#include <thread>

#include "core/eval/run.h"

namespace qcnn {
namespace {

RunSpec small_run(EcMode ec) {
    RunSpec s;
    s.model = QCNN_DATASETS_DIR "/lenet5.onnx";
    s.data = "fashion-mnist:test";
    s.calib_data = "fashion-mnist:test";
    s.layers = "conv=4/16,fc=4/16,fc2=dense";
    s.ec = ec;
    s.calib_images = 32;
    s.ec_conv_images = 16;
    s.ec_iters = 2;
    s.kmeans_iters = 3;
    s.limit = 64;
    s.batch = 16;
    s.threads = 2;
    s.seed = 7;
    return s;
}

void expect_same_run(const RunResult& a, const RunResult& b) {
    EXPECT_EQ(a.float_eval.top1_correct, b.float_eval.top1_correct);
    EXPECT_EQ(a.quant_eval.top1_correct, b.quant_eval.top1_correct);
    EXPECT_EQ(a.quant_eval.top5_correct, b.quant_eval.top5_correct);
    ASSERT_EQ(a.q.layers.size(), b.q.layers.size());
    for (size_t i = 0; i < a.q.layers.size(); ++i) {
        EXPECT_EQ(a.q.layers[i].weight_mse, b.q.layers[i].weight_mse) << a.q.layers[i].name;
        EXPECT_EQ(a.q.layers[i].kmeans_iterations, b.q.layers[i].kmeans_iterations) << a.q.layers[i].name;
    }
    ASSERT_EQ(a.response.size(), b.response.size());
    for (size_t i = 0; i < a.response.size(); ++i) {
        EXPECT_EQ(a.response[i].layer_error, b.response[i].layer_error) << a.response[i].name;
        EXPECT_EQ(a.response[i].network_error, b.response[i].network_error) << a.response[i].name;
    }
}

TEST(ConcurrentRuns, CancelFromAnotherThreadDuringParallelErrorCorrection) {
    std::atomic<bool> cancel{false};
    std::atomic<int> calls_after_refusal{0};
    std::atomic<bool> refused{false};
    std::promise<void> correcting;
    bool signalled = false;  // touched by the worker only (progress comes from one thread)
    std::exception_ptr outcome;
    std::thread worker([&] {
        try {
            run_quantization(small_run(EcMode::Layer), [&](const Progress& p) {
                if (refused) ++calls_after_refusal;
                if (p.stage == "error-correction" && !signalled) {
                    signalled = true;
                    correcting.set_value();
                }
                if (!cancel) return true;
                refused = true;
                return false;
            });
        } catch (...) {
            outcome = std::current_exception();
        }
    });
    correcting.get_future().wait();  // the worker is inside error correction (2 OpenMP threads)
    cancel = true;
    worker.join();
    ASSERT_TRUE(outcome) << "the run finished although it was cancelled during error correction";
    EXPECT_THROW(std::rethrow_exception(outcome), Cancelled);
    EXPECT_TRUE(refused);
    EXPECT_EQ(calls_after_refusal, 0);
}

TEST(ConcurrentRuns, TwoRunsAtOnceMatchOneRunAlone) {
    const RunSpec spec = small_run(EcMode::Layer);
    const RunResult alone = run_quantization(spec);
    EXPECT_EQ(alone.quant_eval.samples, 64);
    std::optional<RunResult> a, b;
    std::exception_ptr error_a, error_b;
    std::thread ta([&] {
        try {
            a = run_quantization(spec);
        } catch (...) {
            error_a = std::current_exception();
        }
    });
    std::thread tb([&] {
        try {
            b = run_quantization(spec);
        } catch (...) {
            error_b = std::current_exception();
        }
    });
    ta.join();
    tb.join();
    if (error_a) std::rethrow_exception(error_a);
    if (error_b) std::rethrow_exception(error_b);
    ASSERT_TRUE(a && b);
    {
        SCOPED_TRACE("first concurrent run");
        expect_same_run(*a, alone);
    }
    {
        SCOPED_TRACE("second concurrent run");
        expect_same_run(*b, alone);
    }
}

}  // namespace
}  // namespace qcnn
