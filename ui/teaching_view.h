// Teaching views of product quantization for one weight layer of the loaded network:
//   - the original filters and the decoded ones (W_hat = codewords picked by the codes) side
//     by side as image grids (conv: one row per output filter, one tile of k_h x k_w per input
//     channel; FC: the weight matrix), one diverging colour scale for both, drawn as a colour
//     bar with its values; a click on a filter shows it zoomed, original over decoded;
//   - the codeword usage histogram (how many codes pick each codeword, over all subspaces);
//   - one subspace's sub-vectors and codewords in 2-D (the two channels for C_s' = 2, the
//     first two principal components of the sub-vectors otherwise, the value itself for
//     C_s' = 1), frame by frame over the k-means iterations, each sub-vector coloured by the
//     codeword it is assigned to in that frame, with step and play controls (speed adjustable,
//     one iteration per second by default);
//   - a "story" for a class: original filters -> codebooks -> decoded filters -> accuracy vs
//     compression (the last step asks the main window for a small sweep: storyTradeoff()).
// The layer is quantized with train_pq() (k-means only, no error correction, one k-means run
// per subspace) at the C_s'/K picked here (initially the layer table's setting, which the view
// follows; a choice made here that differs from the table is said so). Frame i is kmeans()
// with max_iter = i and the subspace's seed (n_init = 1), so frames are exactly the iterations
// of the run whose codebook the decoded filters use. Work runs on a worker thread; newer
// requests supersede older, and the old layer's images are cleared at once.
#pragma once

#include <QImage>
#include <QVector>
#include <QWidget>
#include <functional>
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
    float scale = 1;          // colour scale: +-scale is full red / blue (98th percentile of |w|)
    int tileW = 0, tileH = 0; // conv: one filter's row of tiles is tileH pixels high (k_h + gap);
                              // 0 for FC
    int filtersShown = 0;     // rows of filters (conv) or weight rows (FC) in the images
    double weightMse = 0;     // mean (W - W_hat)^2
    QVector<double> usage;    // K counts summed over subspaces
    int subspace = 0;
    QString xLabel, yLabel;   // axes of the 2-D view
    QVector<double> px, py;   // the subspace's sub-vectors, projected
    struct Frame {
        QVector<double> cx, cy;  // K codewords, projected
        QVector<int> assign;     // codeword of each sub-vector (px/py order)
        double objective = 0;    // sum of squared errors of the assignment
    };
    std::vector<Frame> frames;  // frame i: after i k-means iterations (0: the initialisation)
    QVector<double> codebookX, codebookY;  // the shown subspace's codebook in the decoded weights, projected
    QString error;
};

// Shows an image as large as fits, centred, with crisp (nearest-neighbour) pixels; an optional
// caption when there is no image. A click reports the image pixel under the mouse.
class PixelImage : public QWidget {
public:
    explicit PixelImage(QWidget* parent = nullptr);
    void setImage(const QImage& image);
    void setPlaceholder(const QString& text);
    const QImage& image() const { return image_; }
    QRect imageRect() const;  // where the image is drawn
    std::function<void(QPoint)> onClick;

protected:
    void paintEvent(QPaintEvent* event) override;
    void mousePressEvent(QMouseEvent* event) override;

private:
    QImage image_;
    QString placeholder_;
};

// The diverging colour scale of the filter images: blue -scale .. white 0 .. red +scale.
class ColourBar : public QWidget {
public:
    explicit ColourBar(QWidget* parent = nullptr);
    void setScale(float scale);
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;

private:
    float scale_ = 0;
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
    void setSpeed(double iterationsPerSecond);
    // Zooms filter `index` (conv: output filter; FC: a band of rows starting there).
    void zoomFilter(int index);
    // The story: 0 = off, 1 = original filters, 2 = codebooks (k-means plays), 3 = decoded
    // filters, 4 = accuracy vs compression (emits storyTradeoff). Captions say what is shown.
    void setStoryStep(int step);
    int storyStep() const { return story_; }

    bool isBusy() const { return pending_ > 0; }
    int frame() const { return frame_; }
    int playIntervalMs() const;
    int zoomedFilter() const { return zoom_; }
    const QImage& zoomOriginal() const;
    const QImage& zoomDecoded() const;
    QString infoText() const;
    QString storyCaption() const;
    // The layer table's setting of the shown layer (C_s', K; 0 when dense or unknown).
    void setTableSetting(const QString& alias, int64_t dsub, int64_t K);
    QString currentLayer() const;
    bool differsFromTable() const;
    const TeachingData& data() const { return data_; }
    QCustomPlot* scatterPlot() const { return scatter_; }
    QCPBars* usageBars() const { return usageBars_; }
    QCPGraph* codewordGraph() const { return codewords_; }
    // The sub-vectors drawn in codeword k's colour in the current frame.
    int pointsOfCodeword(int k) const;

    // Computes the view's data (the worker's job; public for tests).
    static TeachingData compute(std::shared_ptr<const Network> net, const QString& alias, int64_t dsub, int64_t K,
                                int subspace, uint64_t seed, int maxIter);

signals:
    void updated();  // new data shown
    void failed(const QString& message);
    void storyTradeoff(const QString& layer, int64_t dsub);  // story step 4: show accuracy vs compression

private:
    void populateLayers();
    void layerChanged();
    void request();
    void showData();
    void showFrame();
    void showZoom();
    void updateInfo();
    void ensurePointGraphs(int64_t K);

    std::shared_ptr<const Network> net_;
    QComboBox* layer_;
    QComboBox* dsub_;
    QComboBox* k_;
    QSpinBox* subspace_;
    PixelImage* original_;
    PixelImage* decoded_;
    PixelImage* zoomOriginal_;
    PixelImage* zoomDecoded_;
    QLabel* zoomLabel_;
    ColourBar* colourBar_;
    QLabel* info_;
    QLabel* caption_;
    QComboBox* speed_;
    QPushButton* storyButton_;
    QPushButton* storyBack_;
    QPushButton* storyNext_;
    QCustomPlot* usage_;
    QCPBars* usageBars_;
    QCustomPlot* scatter_;
    QVector<QCPGraph*> points_;  // one per codeword: its sub-vectors in the current frame
    QCPGraph* codewords_;
    QSlider* slider_;
    QPushButton* stepButton_;
    QPushButton* playButton_;
    QLabel* frameLabel_;
    QTimer* playTimer_;
    QTimer* debounce_;
    TeachingData data_;
    int frame_ = 0;
    int zoom_ = 0;
    int story_ = 0;
    QString tableLayer_;
    int64_t tableDsub_ = 0, tableK_ = 0;
    QImage zoomOriginalImage_, zoomDecodedImage_;
    quint64 generation_ = 0;
    int pending_ = 0;
    bool updating_ = false;
};

}  // namespace qcnn::ui
