#include "ui/teaching_view.h"

#include <QComboBox>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPainter>
#include <QPushButton>
#include <QSlider>
#include <QSpinBox>
#include <QTimer>
#include <QVBoxLayout>
#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>
#include <limits>
#include <qcustomplot.h>

#include "core/ops/conv.h"
#include "core/ops/fc.h"
#include "core/quant/kmeans.h"
#include "core/quant/product_quantizer.h"
#include "core/quant/random.h"
#include "core/util/error.h"
#include "ui/background.h"

namespace qcnn::ui {

namespace {

constexpr int kMaxFilters = 16;      // conv rows shown
constexpr int kMaxChannels = 16;     // conv input channels shown per filter
constexpr int kMaxFcRows = 128, kMaxFcCols = 256;

// Blue (negative) - white - red (positive), v in [-1, 1].
QRgb diverging(float v) {
    v = std::clamp(v, -1.0f, 1.0f);
    const auto mix = [](int a, int b, float t) { return static_cast<int>(std::lround(a + (b - a) * t)); };
    if (v >= 0) return qRgb(mix(255, 178, v), mix(255, 24, v), mix(255, 43, v));
    return qRgb(mix(255, 33, -v), mix(255, 102, -v), mix(255, 172, -v));
}

// Image grid of a weight tensor: conv {C_t, C_s/g, kh, kw} -> filter rows x channel tiles with
// a 1-pixel gap; FC {C_t, C_s} -> the matrix. `scale` maps values to [-1, 1].
QImage weightImage(const Tensor& w, float scale) {
    if (w.shape.size() == 4) {
        const int64_t ct = std::min<int64_t>(w.shape[0], kMaxFilters), cs = std::min<int64_t>(w.shape[1], kMaxChannels);
        const int64_t kh = w.shape[2], kw = w.shape[3];
        QImage img(static_cast<int>(cs * (kw + 1) + 1), static_cast<int>(ct * (kh + 1) + 1), QImage::Format_RGB32);
        img.fill(qRgb(90, 90, 90));
        for (int64_t o = 0; o < ct; ++o)
            for (int64_t c = 0; c < cs; ++c)
                for (int64_t i = 0; i < kh; ++i)
                    for (int64_t j = 0; j < kw; ++j) {
                        const float v = w.data[((o * w.shape[1] + c) * kh + i) * kw + j];
                        img.setPixel(static_cast<int>(c * (kw + 1) + 1 + j), static_cast<int>(o * (kh + 1) + 1 + i),
                                     diverging(v / scale));
                    }
        return img;
    }
    const int64_t rows = std::min<int64_t>(w.shape[0], kMaxFcRows), cols = std::min<int64_t>(w.shape[1], kMaxFcCols);
    QImage img(static_cast<int>(cols), static_cast<int>(rows), QImage::Format_RGB32);
    for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c)
            img.setPixel(static_cast<int>(c), static_cast<int>(r), diverging(w.data[r * w.shape[1] + c] / scale));
    return img;
}

}  // namespace

PixelImage::PixelImage(QWidget* parent) : QWidget(parent) {}

void PixelImage::setImage(const QImage& image) {
    image_ = image;
    update();
}

void PixelImage::setPlaceholder(const QString& text) {
    placeholder_ = text;
    update();
}

QRect PixelImage::imageRect() const {
    if (image_.isNull()) return {};
    const double factor = std::min(double(width()) / image_.width(), double(height()) / image_.height());
    const QSize size(static_cast<int>(image_.width() * factor), static_cast<int>(image_.height() * factor));
    return QRect(QPoint((width() - size.width()) / 2, (height() - size.height()) / 2), size);
}

void PixelImage::paintEvent(QPaintEvent*) {
    QPainter p(this);
    if (image_.isNull()) {
        p.setPen(palette().color(QPalette::PlaceholderText));
        p.drawText(rect(), Qt::AlignCenter | Qt::TextWordWrap, placeholder_);
        return;
    }
    p.setRenderHint(QPainter::SmoothPixmapTransform, false);  // crisp weights, one block each
    p.drawImage(imageRect(), image_);
}

void PixelImage::mousePressEvent(QMouseEvent* event) {
    const QRect r = imageRect();
    if (!onClick || r.isEmpty() || !r.contains(event->position().toPoint())) return;
    const QPointF at = event->position() - r.topLeft();
    onClick(QPoint(static_cast<int>(at.x() * image_.width() / r.width()), static_cast<int>(at.y() * image_.height() / r.height())));
}

ColourBar::ColourBar(QWidget* parent) : QWidget(parent) { setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed); }

void ColourBar::setScale(float scale) {
    scale_ = scale;
    update();
}

QSize ColourBar::sizeHint() const { return {240, fontMetrics().height() * 2 + 14}; }

void ColourBar::paintEvent(QPaintEvent*) {
    if (!(scale_ > 0)) return;
    QPainter p(this);
    const int text = fontMetrics().height();
    const QRect bar(text * 3, 2, width() - text * 6, height() - text - 8);
    for (int x = 0; x < bar.width(); ++x) {
        p.setPen(QColor(diverging(2.0f * float(x) / float(std::max(1, bar.width() - 1)) - 1.0f)));
        p.drawLine(bar.left() + x, bar.top(), bar.left() + x, bar.bottom());
    }
    p.setPen(palette().color(QPalette::WindowText));
    p.drawRect(bar);
    const QString s = QString::number(scale_, 'g', 2);
    const int y = bar.bottom() + 4;
    p.drawText(QRect(bar.left() - text * 3, y, text * 6, text + 2), Qt::AlignHCenter, QStringLiteral("-") + s);
    p.drawText(QRect(bar.center().x() - text * 3, y, text * 6, text + 2), Qt::AlignHCenter, QStringLiteral("0"));
    p.drawText(QRect(bar.right() - text * 3, y, text * 6, text + 2), Qt::AlignHCenter, QStringLiteral("+") + s);
}

TeachingData TeachingView::compute(std::shared_ptr<const Network> net, const QString& alias, int64_t dsub, int64_t K,
                                   int subspace, uint64_t seed, int maxIter) {
    TeachingData d;
    d.layer = alias;
    d.dsub = dsub;
    d.K = K;
    try {
        const int node = net->find_node(alias.toStdString());
        if (node < 0) fail("no layer ", alias.toStdString());
        const std::optional<WeightLayer> layer = net->nodes[node].op->as_weight_layer();
        if (!layer || layer->quantized()) fail(alias.toStdString(), ": not a float conv or FC layer (already quantized?)");
        const Tensor* weight = layer->weight;
        const LayerKind kind = layer->kind;
        const int64_t groups = layer->groups;
        PQTrainOptions opt;
        opt.max_iter = maxIter;
        opt.seed = seed;
        opt.threads = 1;
        opt.restarts = 1;  // the run the frames replay (best-of restarts would decode another one)
        PQTrainStats stats;
        const PQWeights pq = train_pq(*weight, kind, groups, PQConfig{dsub, K}, opt, alias.toStdString(), {}, &stats);
        const Tensor decoded = pq.decode();
        d.M = pq.geo.subspaces();
        d.weightMse = stats.mse;
        // Colour scale: the 98th percentile of |w| (a few large weights would wash out the rest).
        std::vector<float> mags(weight->data.begin(), weight->data.end());
        for (float& v : mags) v = std::abs(v);
        const size_t q = std::min(mags.size() - 1, static_cast<size_t>(0.98 * static_cast<double>(mags.size())));
        std::nth_element(mags.begin(), mags.begin() + static_cast<std::ptrdiff_t>(q), mags.end());
        float scale = mags[q];
        if (!(scale > 0)) scale = 1;
        d.original = weightImage(*weight, scale);
        d.decoded = weightImage(decoded, scale);
        d.scale = scale;
        if (weight->shape.size() == 4) {
            d.tileW = static_cast<int>(weight->shape[3] + 1);
            d.tileH = static_cast<int>(weight->shape[2] + 1);
            d.filtersShown = static_cast<int>(std::min<int64_t>(weight->shape[0], kMaxFilters));
        } else {
            d.filtersShown = static_cast<int>(std::min<int64_t>(weight->shape[0], kMaxFcRows));
        }
        d.usage = QVector<double>(static_cast<int>(K), 0.0);
        for (uint8_t code : pq.unpacked_codes()) d.usage[code] += 1;

        d.subspace = std::clamp<int>(subspace, 0, static_cast<int>(d.M - 1));
        const RowMatrixXf x = pq_training_set(*weight, pq.geo, d.subspace);
        // Projection to 2-D: identity for C_s' <= 2, else the top two principal axes.
        Eigen::RowVectorXd mean = Eigen::RowVectorXd::Zero(dsub);
        Eigen::MatrixXd axes = Eigen::MatrixXd::Zero(dsub, 2);
        if (dsub > 2) {
            const Eigen::MatrixXd xd = x.cast<double>();
            mean = xd.colwise().mean();
            const Eigen::MatrixXd centered = xd.rowwise() - mean;
            const Eigen::MatrixXd cov = centered.transpose() * centered / std::max<double>(1.0, double(x.rows()));
            Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
            axes.col(0) = eig.eigenvectors().col(dsub - 1);
            axes.col(1) = eig.eigenvectors().col(dsub - 2);
            d.xLabel = tr("principal component 1");
            d.yLabel = tr("principal component 2");
        } else {
            axes(0, 0) = 1;
            if (dsub == 2) axes(1, 1) = 1;
            d.xLabel = tr("channel 1 of the subspace");
            d.yLabel = dsub == 2 ? tr("channel 2 of the subspace") : QString();
        }
        auto project = [&](const float* row, double& px, double& py) {
            double a = 0, b = 0;
            for (int64_t j = 0; j < dsub; ++j) {
                a += (row[j] - mean[j]) * axes(j, 0);
                b += (row[j] - mean[j]) * axes(j, 1);
            }
            px = a;
            py = b;
        };
        for (int64_t r = 0; r < x.rows(); ++r) {
            double a, b;
            project(x.data() + r * dsub, a, b);
            d.px << a;
            d.py << b;
        }
        for (int64_t k = 0; k < K; ++k) {
            double a, b;
            project(pq.codeword(d.subspace, k), a, b);
            d.codebookX << a;
            d.codebookY << b;
        }
        for (int it = 0; it <= maxIter; ++it) {
            KMeansOptions ko;
            ko.k = K;
            ko.max_iter = it;
            ko.seed = derive_seed(seed, static_cast<uint64_t>(d.subspace));
            ko.n_init = 1;
            const KMeansResult km = kmeans(x, ko);
            TeachingData::Frame f;
            for (int64_t k = 0; k < K; ++k) {
                double a, b;
                project(km.centroids.data() + k * dsub, a, b);
                f.cx << a;
                f.cy << b;
            }
            // Each sub-vector's nearest codeword of this frame (the first on ties, as kmeans).
            f.assign.resize(static_cast<int>(x.rows()));
            for (int64_t r = 0; r < x.rows(); ++r) {
                int best = 0;
                float bestD = std::numeric_limits<float>::infinity();
                for (int64_t k = 0; k < K; ++k) {
                    const float dist = (x.row(r) - km.centroids.row(k)).squaredNorm();
                    if (dist < bestD) {
                        bestD = dist;
                        best = static_cast<int>(k);
                    }
                }
                f.assign[static_cast<int>(r)] = best;
            }
            f.objective = km.inertia;
            d.frames.push_back(std::move(f));
            if (km.iterations < it) break;  // converged: later frames are the same
        }
    } catch (const std::exception& e) {
        d.error = QString::fromStdString(e.what());
    }
    return d;
}

TeachingView::TeachingView(QWidget* parent)
    : QWidget(parent),
      layer_(new QComboBox),
      dsub_(new QComboBox),
      k_(new QComboBox),
      subspace_(new QSpinBox),
      original_(new PixelImage),
      decoded_(new PixelImage),
      zoomOriginal_(new PixelImage),
      zoomDecoded_(new PixelImage),
      zoomLabel_(new QLabel),
      colourBar_(new ColourBar),
      info_(new QLabel),
      caption_(new QLabel),
      speed_(new QComboBox),
      storyButton_(new QPushButton(tr("Story"))),
      storyBack_(new QPushButton(tr("Back"))),
      storyNext_(new QPushButton(tr("Next"))),
      usage_(new QCustomPlot),
      scatter_(new QCustomPlot),
      slider_(new QSlider(Qt::Horizontal)),
      stepButton_(new QPushButton(tr("Step"))),
      playButton_(new QPushButton(tr("Play"))),
      frameLabel_(new QLabel),
      playTimer_(new QTimer(this)),
      debounce_(new QTimer(this)) {
    for (int64_t k = kMinCodewords; k <= kMaxCodewords; k *= 2) k_->addItem(QString::number(k), QVariant::fromValue<qlonglong>(k));
    k_->setCurrentIndex(k_->findData(QVariant::fromValue<qlonglong>(16)));
    auto* controls = new QHBoxLayout;
    controls->addWidget(new QLabel(tr("Layer:")));
    controls->addWidget(layer_);
    controls->addWidget(new QLabel(tr("C_s':")));
    controls->addWidget(dsub_);
    controls->addWidget(new QLabel(tr("K:")));
    controls->addWidget(k_);
    controls->addWidget(new QLabel(tr("Subspace:")));
    controls->addWidget(subspace_);
    controls->addWidget(storyButton_);
    controls->addWidget(info_, 1);
    info_->setWordWrap(true);
    storyButton_->setToolTip(tr("Walk a class through product quantization of this layer, step by step"));

    // The story's caption, large, with its own Back / Next.
    auto* storyRow = new QHBoxLayout;
    caption_->setWordWrap(true);
    QFont big = caption_->font();
    big.setPointSizeF(big.pointSizeF() * 1.25);
    caption_->setFont(big);
    caption_->setStyleSheet(QStringLiteral("QLabel { background: #fff8dc; border: 1px solid #d4b106; padding: 6px; }"));
    storyRow->addWidget(caption_, 1);
    storyRow->addWidget(storyBack_);
    storyRow->addWidget(storyNext_);

    auto* filters = new QGroupBox(tr("Filters: original | decoded (k-means codewords); click a filter to zoom"));
    auto* fl = new QGridLayout(filters);
    for (PixelImage* l : {original_, decoded_}) {
        l->setMinimumSize(160, 120);
        l->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
        l->setToolTip(tr("Rows: output filters; tiles: input channels (up to %1 x %2). Blue negative, red positive, "
                         "one scale for both. Click a filter to zoom it.").arg(kMaxFilters).arg(kMaxChannels));
        l->onClick = [this](QPoint px) {
            zoomFilter(data_.tileH > 0 ? std::max(0, px.y() - 1) / data_.tileH : px.y());
        };
    }
    for (PixelImage* l : {zoomOriginal_, zoomDecoded_}) {
        l->setMinimumSize(160, 40);
        l->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Expanding);
    }
    fl->addWidget(new QLabel(tr("original")), 0, 0, Qt::AlignHCenter);
    fl->addWidget(new QLabel(tr("decoded")), 0, 1, Qt::AlignHCenter);
    fl->addWidget(original_, 1, 0);
    fl->addWidget(decoded_, 1, 1);
    fl->addWidget(colourBar_, 2, 0, 1, 2);
    fl->addWidget(zoomLabel_, 3, 0, 1, 2, Qt::AlignHCenter);
    fl->addWidget(zoomOriginal_, 4, 0);
    fl->addWidget(zoomDecoded_, 4, 1);
    fl->setRowStretch(1, 3);
    fl->setRowStretch(4, 2);
    colourBar_->setToolTip(tr("Weight value: full blue at -s, white at 0, full red at +s; s is the 98th percentile of |w| "
                              "(larger weights are clipped)"));

    usage_->setMinimumHeight(120);
    usage_->xAxis->setLabel(tr("codeword"));
    usage_->yAxis->setLabel(tr("codes using it"));
    auto integers = QSharedPointer<QCPAxisTickerFixed>::create();
    integers->setTickStep(1.0);
    integers->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    usage_->xAxis->setTicker(integers);
    usageBars_ = new QCPBars(usage_->xAxis, usage_->yAxis);
    usageBars_->setPen(QPen(QColor(0x24, 0x49, 0x6b)));
    usageBars_->setBrush(QColor(0x4f, 0xb3, 0xbf));
    usageBars_->setWidth(0.8);
    auto* usageBox = new QGroupBox(tr("Codeword usage (all subspaces)"));
    (new QVBoxLayout(usageBox))->addWidget(usage_);

    auto* left = new QVBoxLayout;
    left->addWidget(filters, 3);
    left->addWidget(usageBox, 1);

    scatter_->setMinimumSize(300, 280);
    codewords_ = scatter_->addGraph();
    codewords_->setName(tr("codewords"));
    codewords_->setLineStyle(QCPGraph::lsNone);
    codewords_->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCrossCircle, QPen(Qt::black, 2), Qt::white, 12));
    codewords_->setAdaptiveSampling(false);
    codewords_->setLayer(QStringLiteral("overlay"));  // above every codeword's points
    scatter_->legend->setVisible(false);  // explained below the plot, where it covers nothing
    auto* key = new QLabel(tr("Dots: the sub-vectors, coloured by the codeword they are assigned to in this iteration. "
                              "Circled crosses: the codewords (cluster centres)."));
    key->setWordWrap(true);
    speed_->addItem(tr("0.5 it/s"), 0.5);
    speed_->addItem(tr("1 it/s"), 1.0);
    speed_->addItem(tr("2 it/s"), 2.0);
    speed_->addItem(tr("5 it/s"), 5.0);
    speed_->setCurrentIndex(1);
    speed_->setToolTip(tr("Play speed: k-means iterations per second"));
    auto* playRow = new QHBoxLayout;
    playRow->addWidget(stepButton_);
    playRow->addWidget(playButton_);
    playRow->addWidget(speed_);
    playRow->addWidget(slider_, 1);
    playRow->addWidget(frameLabel_);
    auto* scatterBox = new QGroupBox(tr("One subspace: sub-vectors and codewords over the k-means iterations"));
    auto* sl = new QVBoxLayout(scatterBox);
    sl->addWidget(scatter_, 1);
    sl->addWidget(key);
    sl->addLayout(playRow);

    auto* body = new QHBoxLayout;
    body->addLayout(left, 1);
    body->addWidget(scatterBox, 1);
    auto* layout = new QVBoxLayout(this);
    layout->addLayout(controls);
    layout->addLayout(storyRow);
    layout->addLayout(body, 1);

    playButton_->setCheckable(true);
    setSpeed(1.0);
    debounce_->setSingleShot(true);
    debounce_->setInterval(150);
    connect(debounce_, &QTimer::timeout, this, &TeachingView::request);
    connect(layer_, &QComboBox::currentIndexChanged, this, [this] {
        if (!updating_) layerChanged();
    });
    for (QComboBox* c : {dsub_, k_})
        connect(c, &QComboBox::currentIndexChanged, this, [this] {
            if (!updating_) debounce_->start();
        });
    connect(subspace_, &QSpinBox::valueChanged, this, [this] {
        if (!updating_) debounce_->start();
    });
    connect(speed_, &QComboBox::currentIndexChanged, this, [this] { setSpeed(speed_->currentData().toDouble()); });
    connect(slider_, &QSlider::valueChanged, this, [this](int v) { setFrame(v); });
    connect(stepButton_, &QPushButton::clicked, this, &TeachingView::step);
    connect(playButton_, &QPushButton::toggled, this, &TeachingView::setPlaying);
    connect(playTimer_, &QTimer::timeout, this, [this] {
        if (frame_ + 1 >= static_cast<int>(data_.frames.size()))
            setPlaying(false);
        else
            step();
    });
    connect(storyButton_, &QPushButton::clicked, this, [this] { setStoryStep(story_ == 0 ? 1 : 0); });
    connect(storyBack_, &QPushButton::clicked, this, [this] { setStoryStep(std::max(1, story_ - 1)); });
    connect(storyNext_, &QPushButton::clicked, this, [this] { setStoryStep(story_ >= 4 ? 0 : story_ + 1); });
    setStoryStep(0);
    setNetwork(nullptr);
}

void TeachingView::setNetwork(std::shared_ptr<const Network> net) {
    net_ = std::move(net);
    data_ = {};
    populateLayers();
    showData();
    if (net_ && layer_->count() > 0) layerChanged();
}

void TeachingView::populateLayers() {
    updating_ = true;
    layer_->clear();
    if (net_)
        for (int n : net_->weight_layers()) {
            const Node& node = net_->nodes[n];
            if (!node.op->as_weight_layer()->quantized())
                layer_->addItem(QString::fromStdString(node.alias.empty() ? node.name : node.alias));
        }
    // Start on the first layer with more than one input channel per group (a 2-D subspace).
    for (int i = 0; net_ && i < layer_->count(); ++i) {
        const WeightLayer w = *net_->nodes[net_->find_node(layer_->itemText(i).toStdString())].op->as_weight_layer();
        if (w.kind != LayerKind::Conv || w.group_in_channels() >= 2) {
            layer_->setCurrentIndex(i);
            break;
        }
    }
    updating_ = false;
    setEnabled(layer_->count() > 0);
}

void TeachingView::layerChanged() {
    if (!net_ || layer_->currentIndex() < 0) return;
    const int node = net_->find_node(layer_->currentText().toStdString());
    if (node < 0) return;
    const std::optional<WeightLayer> w = net_->nodes[node].op->as_weight_layer();
    const int64_t perGroup = w && !w->quantized() ? w->group_in_channels() : 1;
    updating_ = true;
    const qlonglong previous = dsub_->currentData().toLongLong();
    dsub_->clear();
    for (int64_t d : valid_dsub(perGroup)) dsub_->addItem(QString::number(d), QVariant::fromValue<qlonglong>(d));
    int at = dsub_->findData(QVariant::fromValue<qlonglong>(previous));
    if (at < 0) at = dsub_->findData(QVariant::fromValue<qlonglong>(perGroup >= 2 ? 2 : 1));  // 2: the plane itself
    dsub_->setCurrentIndex(std::max(at, 0));
    subspace_->setValue(0);
    updating_ = false;
    debounce_->start();
}

void TeachingView::showLayer(const QString& alias, int64_t dsub, int64_t K) {
    const int at = layer_->findText(alias);
    if (at < 0) return;
    updating_ = true;
    layer_->setCurrentIndex(at);
    updating_ = false;
    layerChanged();
    updating_ = true;
    if (dsub > 0 && dsub_->findData(QVariant::fromValue<qlonglong>(dsub)) >= 0)
        dsub_->setCurrentIndex(dsub_->findData(QVariant::fromValue<qlonglong>(dsub)));
    if (K > 0 && k_->findData(QVariant::fromValue<qlonglong>(K)) >= 0)
        k_->setCurrentIndex(k_->findData(QVariant::fromValue<qlonglong>(K)));
    updating_ = false;
    debounce_->stop();
    request();
}

void TeachingView::setSubspace(int m) {
    subspace_->setValue(m);
    debounce_->stop();
    request();
}

void TeachingView::request() {
    if (!net_ || layer_->currentIndex() < 0 || dsub_->currentIndex() < 0) return;
    setPlaying(false);
    const quint64 generation = ++generation_;
    ++pending_;
    // The old layer's pictures go at once: nothing stale is shown while this one computes.
    const QString alias = layer_->currentText();
    const qlonglong dsub = dsub_->currentData().toLongLong(), K = k_->currentData().toLongLong();
    data_ = TeachingData{};
    showData();
    const QString busy = tr("quantizing %1 at %2/%3 ...").arg(alias).arg(dsub).arg(K);
    original_->setPlaceholder(busy);
    decoded_->setPlaceholder(busy);
    info_->setText(busy);
    runInBackground(
        this,
        [net = net_, alias, dsub, K, subspace = subspace_->value()] {
            return compute(net, alias, dsub, K, subspace, uint64_t{0}, 25);
        },
        [this, generation](TeachingData d) {
            --pending_;
            if (generation != generation_) return;
            data_ = std::move(d);
            frame_ = std::max(0, static_cast<int>(data_.frames.size()) - 1);
            showData();
            if (story_ == 2) {  // the codebook step plays the new layer's k-means from the start
                setFrame(0);
                setPlaying(true);
            }
            if (!data_.error.isEmpty())
                emit failed(data_.error);
            else
                emit updated();
        });
}

void TeachingView::showData() {
    const bool ok = data_.error.isEmpty() && !data_.frames.empty();
    original_->setImage(ok ? data_.original : QImage());
    decoded_->setImage(ok ? data_.decoded : QImage());
    original_->setPlaceholder(data_.error);
    decoded_->setPlaceholder(QString());
    colourBar_->setScale(ok ? data_.scale : 0.0f);
    zoom_ = std::clamp(zoom_, 0, std::max(0, data_.filtersShown - 1));
    showZoom();
    updateInfo();
    updating_ = true;
    subspace_->setRange(0, std::max<int>(0, static_cast<int>(data_.M) - 1));
    if (ok) subspace_->setValue(data_.subspace);
    slider_->setRange(0, std::max(0, static_cast<int>(data_.frames.size()) - 1));
    slider_->setValue(frame_);
    updating_ = false;

    QVector<double> keys;
    for (int k = 0; k < data_.usage.size(); ++k) keys << k;
    usageBars_->setData(keys, ok ? data_.usage : QVector<double>(), true);
    usage_->xAxis->setRange(-1, std::max<double>(1.0, data_.usage.size()));
    const double top = data_.usage.isEmpty() ? 1.0 : *std::max_element(data_.usage.begin(), data_.usage.end());
    usage_->yAxis->setRange(0, top * 1.1 + 1);
    usage_->replot(QCustomPlot::rpQueuedReplot);

    ensurePointGraphs(ok ? data_.K : 0);
    scatter_->xAxis->setLabel(data_.xLabel);
    scatter_->yAxis->setLabel(data_.yLabel);
    if (ok) {
        auto range = [](const QVector<double>& v) {
            const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
            const double pad = std::max(1e-6, (*hi - *lo) * 0.08);
            return QCPRange(*lo - pad, *hi + pad);
        };
        scatter_->xAxis->setRange(range(data_.px));
        scatter_->yAxis->setRange(data_.dsub == 1 ? QCPRange(-1, 1) : range(data_.py));
    }
    showFrame();
}

void TeachingView::setFrame(int frame) {
    if (data_.frames.empty()) return;
    frame_ = std::clamp(frame, 0, static_cast<int>(data_.frames.size()) - 1);
    if (slider_->value() != frame_) {
        updating_ = true;
        slider_->setValue(frame_);
        updating_ = false;
    }
    showFrame();
}

void TeachingView::step() { setFrame(frame_ + 1 >= static_cast<int>(data_.frames.size()) ? 0 : frame_ + 1); }

void TeachingView::setSpeed(double iterationsPerSecond) {
    if (!(iterationsPerSecond > 0)) return;
    playTimer_->setInterval(static_cast<int>(std::lround(1000.0 / iterationsPerSecond)));
    const int at = speed_->findData(iterationsPerSecond);
    if (at >= 0 && at != speed_->currentIndex()) {
        const QSignalBlocker block(speed_);
        speed_->setCurrentIndex(at);
    }
}

int TeachingView::playIntervalMs() const { return playTimer_->interval(); }

void TeachingView::setPlaying(bool on) {
    if (on && frame_ + 1 >= static_cast<int>(data_.frames.size())) setFrame(0);
    if (on)
        playTimer_->start();
    else
        playTimer_->stop();
    if (playButton_->isChecked() != on) {
        const QSignalBlocker block(playButton_);
        playButton_->setChecked(on);
    }
    playButton_->setText(on ? tr("Pause") : tr("Play"));
}

void TeachingView::showFrame() {
    if (data_.frames.empty() || !data_.error.isEmpty()) {
        codewords_->data()->clear();
        for (QCPGraph* g : points_) g->data()->clear();
        frameLabel_->clear();
        scatter_->replot(QCustomPlot::rpQueuedReplot);
        return;
    }
    const TeachingData::Frame& f = data_.frames[frame_];
    codewords_->setData(f.cx, f.cy, true);
    std::vector<QVector<double>> xs(points_.size()), ys(points_.size());
    for (int i = 0; i < data_.px.size() && i < f.assign.size(); ++i) {
        const int k = f.assign[i];
        if (k < 0 || k >= points_.size()) continue;
        xs[k] << data_.px[i];
        ys[k] << data_.py[i];
    }
    for (int k = 0; k < points_.size(); ++k) points_[k]->setData(xs[k], ys[k], true);
    frameLabel_->setText(frame_ == 0 ? tr("initialisation (k-means++), SSE %1").arg(f.objective, 0, 'g', 4)
                                     : tr("iteration %1 / %2, SSE %3")
                                           .arg(frame_)
                                           .arg(static_cast<int>(data_.frames.size()) - 1)
                                           .arg(f.objective, 0, 'g', 4));
    scatter_->replot(QCustomPlot::rpQueuedReplot);
}

// One colour per codeword, spread around the hue circle by the golden angle so that
// neighbouring indices differ.
static QColor codewordColour(int k) {
    return QColor::fromHsv(static_cast<int>(std::fmod(k * 137.508, 360.0)), 190, 210, 190);
}

void TeachingView::ensurePointGraphs(int64_t K) {
    while (points_.size() > K) scatter_->removeGraph(points_.takeLast());
    while (points_.size() < K) {
        QCPGraph* g = scatter_->addGraph();
        g->setLineStyle(QCPGraph::lsNone);
        g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, codewordColour(static_cast<int>(points_.size())), 5));
        g->setAdaptiveSampling(false);
        g->removeFromLegend();
        points_ << g;
    }
}

int TeachingView::pointsOfCodeword(int k) const {
    return k >= 0 && k < points_.size() ? points_[k]->data()->size() : 0;
}

void TeachingView::zoomFilter(int index) {
    zoom_ = std::clamp(index, 0, std::max(0, data_.filtersShown - 1));
    showZoom();
}

const QImage& TeachingView::zoomOriginal() const { return zoomOriginalImage_; }
const QImage& TeachingView::zoomDecoded() const { return zoomDecodedImage_; }

// Filter `row` of a conv image grid, its channel tiles rearranged into a near-square grid so
// that the zoom is large in both directions.
static QImage filterTiles(const QImage& grid, int row, int tileW, int tileH) {
    const int tiles = (grid.width() - 1) / tileW;
    const int cols = static_cast<int>(std::ceil(std::sqrt(static_cast<double>(tiles))));
    const int rows = (tiles + cols - 1) / cols;
    QImage out(cols * tileW + 1, rows * tileH + 1, grid.format());
    out.fill(qRgb(90, 90, 90));
    QPainter p(&out);
    for (int c = 0; c < tiles; ++c)
        p.drawImage(QPoint((c % cols) * tileW + 1, (c / cols) * tileH + 1),
                    grid.copy(c * tileW + 1, row * tileH + 1, tileW - 1, tileH - 1));
    return out;
}

void TeachingView::showZoom() {
    zoomOriginalImage_ = zoomDecodedImage_ = QImage();
    if (!data_.original.isNull() && data_.filtersShown > 0) {
        if (data_.tileH > 0) {  // conv: filter zoom_'s channel tiles
            zoomOriginalImage_ = filterTiles(data_.original, zoom_, data_.tileW, data_.tileH);
            zoomDecodedImage_ = filterTiles(data_.decoded, zoom_, data_.tileW, data_.tileH);
            zoomLabel_->setText(tr("filter %1 zoomed (its input channels): original | decoded").arg(zoom_));
        } else {  // FC: 8 weight rows from zoom_
            const QRect band(0, zoom_, data_.original.width(), std::min(8, data_.original.height() - zoom_));
            zoomOriginalImage_ = data_.original.copy(band);
            zoomDecodedImage_ = data_.decoded.copy(band);
            zoomLabel_->setText(tr("rows %1-%2 zoomed: original | decoded").arg(zoom_).arg(zoom_ + band.height() - 1));
        }
    } else {
        zoomLabel_->clear();
    }
    zoomOriginal_->setImage(zoomOriginalImage_);
    zoomDecoded_->setImage(zoomDecodedImage_);
}

QString TeachingView::currentLayer() const { return layer_->currentText(); }

void TeachingView::setTableSetting(const QString& alias, int64_t dsub, int64_t K) {
    tableLayer_ = alias;
    tableDsub_ = dsub;
    tableK_ = K;
    updateInfo();
}

bool TeachingView::differsFromTable() const {
    if (tableLayer_.isEmpty() || tableLayer_ != layer_->currentText()) return false;
    return tableDsub_ != dsub_->currentData().toLongLong() || tableK_ != k_->currentData().toLongLong();
}

QString TeachingView::infoText() const { return info_->text(); }

void TeachingView::updateInfo() {
    const bool ok = data_.error.isEmpty() && !data_.frames.empty();
    QString text;
    if (!data_.error.isEmpty())
        text = data_.error;
    else if (ok)
        text = tr("%1 at %2/%3: %4 subspaces, weight MSE %5").arg(data_.layer).arg(data_.dsub).arg(data_.K).arg(data_.M).arg(data_.weightMse, 0, 'g', 3);
    if (ok && differsFromTable())
        text += tr("  <b>(differs from the layer table: %1)</b>")
                    .arg(tableDsub_ > 0 ? tr("%1/%2").arg(tableDsub_).arg(tableK_) : tr("dense"));
    info_->setText(text);
}

QString TeachingView::storyCaption() const { return caption_->isVisible() || story_ > 0 ? caption_->text() : QString(); }

void TeachingView::setStoryStep(int step) {
    story_ = std::clamp(step, 0, 4);
    const bool on = story_ > 0;
    caption_->setVisible(on);
    storyBack_->setVisible(on);
    storyNext_->setVisible(on);
    storyBack_->setEnabled(story_ > 1);
    storyNext_->setText(story_ >= 4 ? tr("End") : tr("Next"));
    storyButton_->setText(on ? tr("End story") : tr("Story"));
    const QString layer = layer_->currentText();
    const qlonglong dsub = dsub_->currentData().toLongLong(), K = k_->currentData().toLongLong();
    switch (story_) {
        case 0:
            caption_->clear();
            return;
        case 1:
            setPlaying(false);
            zoomFilter(0);
            caption_->setText(tr("1/4  The filters of %1, as trained. Each row is one output filter, each tile one input "
                                 "channel (blue negative, red positive). Product quantization cuts every filter into "
                                 "sub-vectors of C_s' = %2 channels.").arg(layer).arg(dsub));
            return;
        case 2:
            caption_->setText(tr("2/4  Codebooks. In each subspace, k-means groups the sub-vectors (dots) into K = %1 "
                                 "clusters; the codewords (circled crosses) are their centres. Watch the iterations: "
                                 "each dot takes the colour of its nearest codeword.").arg(K));
            setFrame(0);
            setPlaying(true);
            return;
        case 3:
            setPlaying(false);
            setFrame(static_cast<int>(data_.frames.size()) - 1);
            caption_->setText(tr("3/4  Decoded filters. Every sub-vector is replaced by its nearest codeword: only the "
                                 "codes (%1 bits each) and the small codebooks are stored. Compare original and decoded "
                                 "(weight MSE %2).")
                                  .arg(std::ceil(std::log2(std::max<qlonglong>(2, K))))
                                  .arg(data_.weightMse, 0, 'g', 3));
            return;
        default:
            caption_->setText(tr("4/4  What it costs. The workbench now quantizes the network's layers of this kind at "
                                 "C_s' = %1 with K = 4, 16 and 64 and plots top-1 against compression: fewer codewords, "
                                 "smaller network, lower accuracy.").arg(dsub));
            emit storyTradeoff(layer, dsub);
            return;
    }
}

}  // namespace qcnn::ui
