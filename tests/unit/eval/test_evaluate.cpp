#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "core/eval/evaluate.h"
#include "eval_test_util.h"

namespace qcnn {
namespace {

using test::make_test_net;
using test::random_samples;

// Independent formulation of the ranking rule: stable sort by descending score.
int64_t sorted_rank(const float* l, int64_t classes, int label) {
    std::vector<int64_t> idx(classes);
    std::iota(idx.begin(), idx.end(), 0);
    std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return l[a] > l[b]; });
    return std::find(idx.begin(), idx.end(), label) - idx.begin();
}

struct Expected {
    int64_t top1 = 0, top5 = 0;
    std::vector<int64_t> class_samples, class_top1;
    Tensor logits;
};

Expected expected_stats(const test::TestNet& t, const Dataset& data, int64_t count) {
    Expected e;
    std::vector<int> labels;
    Tensor x;
    data.batch(0, count, x, labels);
    e.logits = t.reference(x);
    const int64_t classes = e.logits.dim(1);
    e.class_samples.assign(data.num_classes(), 0);
    e.class_top1.assign(data.num_classes(), 0);
    for (int64_t i = 0; i < count; ++i) {
        const int64_t r = sorted_rank(e.logits.ptr() + i * classes, classes, labels[i]);
        ++e.class_samples[labels[i]];
        if (r < 1) {
            ++e.top1;
            ++e.class_top1[labels[i]];
        }
        if (r < 5) ++e.top5;
    }
    return e;
}

TEST(RankOf, FollowsArgmaxTieBreakingAndNaN) {
    const float l[] = {1.0f, 3.0f, 3.0f, -2.0f, 0.5f};
    EXPECT_EQ(rank_of(l, 5, 1), 0);  // first of the tied maxima
    EXPECT_EQ(rank_of(l, 5, 2), 1);  // the tie with class 1 ranks behind it
    EXPECT_EQ(rank_of(l, 5, 0), 2);
    EXPECT_EQ(rank_of(l, 5, 4), 3);
    EXPECT_EQ(rank_of(l, 5, 3), 4);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float m[] = {nan, 1.0f, nan};
    EXPECT_EQ(rank_of(m, 3, 0), 3);  // a NaN true score never hits
    EXPECT_EQ(rank_of(m, 3, 1), 0);  // NaN competitors never outrank
}

TEST(Evaluate, MatchesReferenceCountsForEveryBatchSize) {
    const Shape chw{2, 5, 4};
    const int classes = 7;
    const auto t = make_test_net(chw, 3, classes, 11);
    const Dataset data(random_samples(103, chw, classes, 5), {});
    const Expected e = expected_stats(t, data, data.size());
    ASSERT_GT(e.top1, 0);
    ASSERT_LT(e.top1, e.top5);  // the data exercises both measures

    for (int64_t batch : {1, 10, 64, 103, 500}) {
        for (int threads : {1, 2}) {
            EvalOptions o;
            o.batch = batch;
            o.threads = threads;
            const EvalResult r = evaluate(t.net, data, "random", o);
            SCOPED_TRACE(cat("batch ", batch, " threads ", threads));
            EXPECT_EQ(r.samples, 103);
            EXPECT_EQ(r.top1_correct, e.top1);
            EXPECT_EQ(r.top5_correct, e.top5);
            EXPECT_DOUBLE_EQ(r.top1, static_cast<double>(e.top1) / 103.0);
            EXPECT_DOUBLE_EQ(r.top5, static_cast<double>(e.top5) / 103.0);
            ASSERT_EQ(r.per_class.size(), static_cast<size_t>(classes));
            for (int c = 0; c < classes; ++c) {
                EXPECT_EQ(r.per_class[c].samples, e.class_samples[c]);
                EXPECT_EQ(r.per_class[c].top1_correct, e.class_top1[c]);
                EXPECT_EQ(r.per_class[c].name, cat("class", c));
            }
            EXPECT_EQ(r.batch, batch);
            EXPECT_EQ(r.threads, threads);
            EXPECT_GT(r.seconds, 0.0);
            EXPECT_LE(r.forward_seconds, r.seconds);
            EXPECT_NEAR(r.images_per_second, 103.0 / r.seconds, 1e-9 * r.images_per_second);
        }
    }
}

TEST(Evaluate, SinkReceivesEveryLogitRowInOrder) {
    const Shape chw{1, 6, 6};
    const auto t = make_test_net(chw, 4, 10, 21);
    const Dataset data(random_samples(37, chw, 10, 8), {});
    const Expected e = expected_stats(t, data, 37);
    std::vector<int64_t> indices;
    std::vector<int> labels;
    std::vector<float> logits;
    EvalOptions o;
    o.batch = 8;
    o.logits_sink = [&](int64_t index, int label, const float* row, int64_t classes) {
        indices.push_back(index);
        labels.push_back(label);
        ASSERT_EQ(classes, 10);
        logits.insert(logits.end(), row, row + classes);
    };
    evaluate(t.net, data, "random", o);
    ASSERT_EQ(indices.size(), 37u);
    for (int64_t i = 0; i < 37; ++i) {
        EXPECT_EQ(indices[i], i);
        EXPECT_EQ(labels[i], data.labels()[i]);
    }
    ASSERT_EQ(logits.size(), e.logits.data.size());
    for (size_t k = 0; k < logits.size(); ++k) EXPECT_NEAR(logits[k], e.logits.data[k], 1e-5f) << "element " << k;
}

TEST(Evaluate, LimitProgressAndDeterminism) {
    const Shape chw{3, 4, 4};
    const auto t = make_test_net(chw, 2, 5, 31);
    const Dataset data(random_samples(50, chw, 5, 9), {});
    std::vector<Progress> seen;
    EvalOptions o;
    o.batch = 8;
    o.limit = 20;
    const EvalResult r = evaluate(t.net, data, "random", o, [&](const Progress& p) {
        seen.push_back(p);
        return true;
    });
    EXPECT_EQ(r.samples, 20);
    const Expected e = expected_stats(t, data, 20);
    EXPECT_EQ(r.top1_correct, e.top1);
    // One report before the first batch, one after each of the 3 batches (8 + 8 + 4).
    ASSERT_EQ(seen.size(), 4u);
    const int64_t done[] = {0, 8, 16, 20};
    for (size_t i = 0; i < seen.size(); ++i) {
        EXPECT_EQ(seen[i].stage, "evaluate");
        EXPECT_EQ(seen[i].done, done[i]);
        EXPECT_EQ(seen[i].total, 20);
    }
    // Same inputs, same bits.
    std::vector<float> a, b;
    o.logits_sink = [&](int64_t, int, const float* row, int64_t n) { a.insert(a.end(), row, row + n); };
    evaluate(t.net, data, "random", o);
    o.logits_sink = [&](int64_t, int, const float* row, int64_t n) { b.insert(b.end(), row, row + n); };
    evaluate(t.net, data, "random", o);
    EXPECT_EQ(a, b);
}

TEST(Evaluate, ProgressReturningFalseCancels) {
    const Shape chw{1, 4, 4};
    const auto t = make_test_net(chw, 0, 3, 41);
    const Dataset data(random_samples(40, chw, 3, 10), {});
    int calls = 0;
    EvalOptions o;
    o.batch = 10;
    EXPECT_THROW(evaluate(t.net, data, "random", o,
                          [&](const Progress& p) {
                              ++calls;
                              return p.done < 20;
                          }),
                 Cancelled);
    EXPECT_EQ(calls, 3);  // 0, 10, 20 -> stop
}

TEST(Evaluate, ShapeMismatchNamesDatasetAndModel) {
    const auto t = make_test_net({1, 28, 28}, 0, 10, 51, "models/lenet.onnx");
    const Dataset data(random_samples(4, {3, 32, 32}, 10, 11), {});
    try {
        evaluate(t.net, data, "cifar10:batch.bin");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "dataset cifar10:batch.bin gives 3x32x32 images, model models/lenet.onnx expects 1x28x28");
    }
}

TEST(Evaluate, RejectsUnlabelledDataTooFewScoresAndBadOptions) {
    const Shape chw{1, 3, 3};
    const auto t = make_test_net(chw, 0, 4, 61);
    SampleData unlabelled = random_samples(5, chw, 4, 12);
    unlabelled.labels.clear();
    unlabelled.num_classes = 0;
    unlabelled.class_names.clear();
    const Dataset nolabels(std::move(unlabelled), {});
    EXPECT_THROW(
        {
            try {
                evaluate(t.net, nolabels, "idx:images.gz");
            } catch (const Error& e) {
                EXPECT_NE(std::string(e.what()).find("idx:images.gz has no labels"), std::string::npos) << e.what();
                throw;
            }
        },
        Error);

    const Dataset ten_classes(random_samples(5, chw, 10, 13), {});
    try {
        evaluate(t.net, ten_classes, "ten");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "model test-net.onnx outputs 4 class scores, but dataset ten has 10 classes");
    }

    const Dataset ok(random_samples(5, chw, 4, 14), {});
    EvalOptions o;
    o.batch = 0;
    EXPECT_THROW(evaluate(t.net, ok, "ok", o), Error);
    o.batch = 4;
    o.limit = -1;
    EXPECT_THROW(evaluate(t.net, ok, "ok", o), Error);
}

TEST(Evaluate, DynamicModelDimensionsMatchAnySize) {
    // A model input declared {N, 1, ?, ?} accepts any image size its layers accept.
    auto t = make_test_net({1, 3, 3}, 0, 2, 71);
    t.net->values[t.net->inputs[0]].shape = {-1, 1, -1, -1};
    const Dataset data(random_samples(6, {1, 3, 3}, 2, 15), {});
    EXPECT_EQ(evaluate(t.net, data, "random").samples, 6);
    const Dataset wrong_channels(random_samples(6, {2, 3, 3}, 2, 16), {});
    try {
        evaluate(t.net, wrong_channels, "two-channel");
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_STREQ(e.what(), "dataset two-channel gives 2x3x3 images, model test-net.onnx expects 1x?x?");
    }
}

TEST(LogitsCsvWriter, WritesLabelThenRoundTrippingFloats) {
    std::ostringstream os;
    LogitsCsvWriter w(os);
    const float row[] = {0.1f, -1.0e-20f, 3.4028235e38f, 1.0f / 3.0f};
    w(0, 7, row, 4);
    w(1, 0, row, 1);
    const std::string text = os.str();
    std::istringstream in(text);
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    std::vector<std::string> cells;
    std::stringstream ls(line);
    for (std::string cell; std::getline(ls, cell, ',');) cells.push_back(cell);
    ASSERT_EQ(cells.size(), 5u);
    EXPECT_EQ(cells[0], "7");
    for (int j = 0; j < 4; ++j) EXPECT_EQ(std::strtof(cells[j + 1].c_str(), nullptr), row[j]) << cells[j + 1];
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_EQ(line, "0,0.100000001");
    EXPECT_FALSE(std::getline(in, line));
}

}  // namespace
}  // namespace qcnn
