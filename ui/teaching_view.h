// Teaching views of product quantization for one weight layer of the loaded network:
//   - the original filters and the decoded ones (W_hat = codewords picked by the codes) side
//     by side as image grids (conv: one row per output filter, one tile of k_h x k_w per input
//     channel; FC: the weight matrix), one diverging colour scale for both;
//   - the codeword usage histogram (how many codes pick each codeword, over all subspaces);
//   - one subspace's sub-vectors and codewords in 2-D (the two channels for C_s' = 2, the
//     first two principal components of the sub-vectors otherwise, the value itself for
//     C_s' = 1), frame by frame over the k-means iterations, with step and play controls.
// The layer is quantized with train_pq() (k-means only, no error correction) at the C_s'/K
// picked here (initially the layer table's setting). Frame i is kmeans() with max_iter = i
// and the subspace's seed (kmeans is deterministic, n_init = 1), so frames are exactly the
// iterations of one k-means run. Work runs on a worker thread; newer requests supersede older.
#pragma once

#include <QImage>
#include <QVector>
#include <QWidget>
#include <memory>

#include "core/graph/network.h"

class QComboBox;
class QCustomPlot;
class QCPBars;
class QCPGraph;
class QLabel;
class QPushButton;
class QSlider;
class QSpinBox;
class QTimer;

namespace qcnn::ui {

struct TeachingData {
    QString layer;            // alias
    int64_t dsub = 0, K = 0, M = 0;
    QImage original, decoded; // unscaled image grids (one pixel per weight)
    double weightMse = 0;     // mean (W - W_hat)^2
    QVector<double> usage;    // K counts summed over subspaces
    int subspace = 0;
    QString xLabel, yLabel;   // axes of the 2-D view
    QVector<double> px, py;   // the subspace's sub-vectors, projected
    struct Frame {
        QVector<double> cx, cy;  // K codewords, projected
        double objective = 0;    // sum of squared errors of the assignment
    };
    std::vector<Frame> frames;  // frame i: after i k-means iterations (0: the initialisation)
    QString error;
};

// Shows an image enlarged by the largest integer factor that fits, centred (crisp pixels).
class PixelImage : public QWidget {
public:
    explicit PixelImage(QWidget* parent = nullptr);
    void setImage(const QImage& image);
    const QImage& image() const { return image_; }

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    QImage image_;
};

class TeachingView : public QWidget {
    Q_OBJECT

public:
    explicit TeachingView(QWidget* parent = nullptr);

    void setNetwork(std::shared_ptr<const Network> net);
    // Selects weight layer `alias` with setting C_s'/K (0: keep the view's choice) and recomputes.
    void showLayer(const QString& alias, int64_t dsub = 0, int64_t K = 0);
    void setSubspace(int m);
    void setFrame(int frame);
    void step();
    void setPlaying(bool on);

    bool isBusy() const { return pending_ > 0; }
    int frame() const { return frame_; }
    const TeachingData& data() const { return data_; }
    QCustomPlot* scatterPlot() const { return scatter_; }
    QCPBars* usageBars() const { return usageBars_; }

    // Computes the view's data (the worker's job; public for tests).
    static TeachingData compute(std::shared_ptr<const Network> net, const QString& alias, int64_t dsub, int64_t K,
                                int subspace, uint64_t seed, int maxIter);

signals:
    void updated();  // new data shown
    void failed(const QString& message);

private:
    void populateLayers();
    void layerChanged();
    void request();
    void showData();
    void showFrame();

    std::shared_ptr<const Network> net_;
    QComboBox* layer_;
    QComboBox* dsub_;
    QComboBox* k_;
    QSpinBox* subspace_;
    PixelImage* original_;
    PixelImage* decoded_;
    QLabel* info_;
    QCustomPlot* usage_;
    QCPBars* usageBars_;
    QCustomPlot* scatter_;
    QCPGraph* points_;
    QCPGraph* codewords_;
    QSlider* slider_;
    QPushButton* stepButton_;
    QPushButton* playButton_;
    QLabel* frameLabel_;
    QTimer* playTimer_;
    QTimer* debounce_;
    TeachingData data_;
    int frame_ = 0;
    quint64 generation_ = 0;
    int pending_ = 0;
    bool updating_ = false;
};

}  // namespace qcnn::ui
