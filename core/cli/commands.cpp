// The subcommand table. A new subcommand: write int run_<name>(const Args&, CommandContext&)
// in its own file, declare it in command.h and add one entry here.
#include "core/cli/command.h"
#include "core/data/dataset.h"
#include "core/sweep/run_options.h"

namespace qcnn::cli {

namespace {

OptionSpec model_option() { return run_option_spec("model", "the bundled " + bundled_model(kDefaultModel)); }

OptionSpec data_option() { return run_option_spec("data", kDefaultData); }

// --mean, --std, --preprocess: how pixels become the model's input (eval, quantize).
std::vector<OptionSpec> preprocessing_options() {
    return {run_option_spec("mean"), run_option_spec("std"), run_option_spec("preprocess")};
}

// Calibration, k-means, error correction, evaluation size and threads: the run options that
// quantize, sensitivity and auto share.
std::vector<OptionSpec> run_detail_options() {
    std::vector<OptionSpec> v;
    for (const char* key : {"calib_data", "calib_images", "seeds", "kmeans_iters", "ec_iters", "ec_conv_images",
                            "ec_positions", "limit", "batch", "threads"})
        v.push_back(run_option_spec(key));
    return v;
}

// Fine-tuning after quantization (issue 19): `qcnn quantize` and `qcnn auto`'s candidates.
std::vector<OptionSpec> finetune_options() {
    std::vector<OptionSpec> v;
    for (const char* key : {"finetune", "ft_epochs", "ft_lr", "ft_optimizer", "ft_batch", "ft_params", "ft_images", "ft_distill", "ft_codes_lr"})
        v.push_back(run_option_spec(key));
    return v;
}

// The options of one command: groups in order.
std::vector<OptionSpec> options(std::initializer_list<std::vector<OptionSpec>> groups) {
    std::vector<OptionSpec> all;
    for (const auto& g : groups) all.insert(all.end(), g.begin(), g.end());
    return all;
}

}  // namespace

const std::vector<Command>& commands() {
    static const std::vector<Command> table = {
        {"info",
         "per-layer table of a model: shapes, parameters, FLOPs",
         "Prints one row per layer that runs at inference time: ONNX node name, alias (conv1, fc1, ...),\n"
         "operator, input and output shape for one image, parameters and FLOPs (multiply-adds per\n"
         "image), then the totals.",
         {model_option(),
          {"--layers", "CFG", "print the cost model for these settings instead (e.g. conv=8/128,fc=4/32):\n"
                              "FLOPs, weight bits, speed-up, compression, memory; nothing is run"},
          {"--ops", "", "print the supported ONNX operators (Markdown, as in docs/onnx-ops.md) and exit"},
          {"--json", "", "print one JSON object instead of the table"}},
         run_info},
        {"eval",
         "classification accuracy of a model on a dataset",
         "Runs the model on a labelled dataset and prints top-1, top-5 and per-class accuracy and the\n"
         "throughput. Images are fed as float32 = uint8/255 (then (x - mean) / std if given), NCHW.\n"
         "A progress bar is drawn on stderr when it is a terminal.",
         options({{model_option(),
          data_option(),
          run_option_spec("limit"),
          run_option_spec("batch"),
          run_option_spec("threads")},
         preprocessing_options(),
         {{"--convert", "", "convert images to the model's input shape (1<->3 channels, bilinear resize)\n"
                            "instead of failing when they differ (not with --preprocess imagenet)"},
          {"--kernel", "K", "quantized layers: auto (default: per layer the faster of the fast lookup tables and\n"
                            "the dense kernels on the decoded weights, timed at this batch and thread count and\n"
                            "printed), fast (always the SIMD lookup tables: 8-bit entries for K <= 16, 16-bit\n"
                            "above) or reference (the paper's float lookup tables)"},
          {"--logits", "FILE", "write a CSV row per image: label, then the raw outputs (%.9g)"},
          {"--json", "", "print one JSON object instead of the text report"}}}),
         run_eval},
        {"quantize",
         "product-quantize a model per layer, evaluate it and report the cost model",
         "Quantizes every weight layer with the per-layer setting C_s'/K (sub-space dimension / codewords)\n"
         "or keeps it dense, optionally with error correction fitted to each layer's response on\n"
         "calibration images, then evaluates the float and the quantized model on --data. Reports per\n"
         "layer and in total: theoretical speed-up, compression, memory, response error (relative L2\n"
         "error of the layer's output against the float network on calibration images) and top-1/top-5.\n"
         "Calibration uses the training split of --data (fashion-mnist:test -> fashion-mnist:train)\n"
         "unless --calib-data says otherwise; calibrating on the evaluation set is flagged.",
         options({{model_option(),
          data_option(),
          run_option_spec("base"),
          run_option_spec("ec")},
         run_detail_options(),
         preprocessing_options(),
         finetune_options(),
         {run_option_spec("kernel"),
          run_option_spec("recipe"),
          {"-o", "FILE", "save the quantized model (HDF5, docs/model-format.md); `qcnn eval --model FILE` runs it"},
          {"--json", "", "print one JSON object instead of the text report"}}}),
         run_quantize},
        {"demo",
         "headless demo: quantize the bundled network at four settings and compare",
         "Evaluates the bundled network on Fashion-MNIST, then quantizes it at four settings (FC only,\n"
         "the paper's conv 8/128 + FC 4/32, K=16, high compression) and prints accuracy, compression\n"
         "and theoretical speed-up side by side. What `bash .ci/bootstrap.sh run` shows without a display.",
         {model_option(), run_option_spec("limit"), run_option_spec("threads")},
         run_demo},
        {"sweep",
         "run a sweep spec: many quantization settings, results appended to an HDF5 file",
         "Runs every setting of a sweep spec (JSON, docs/sweeps.md; the workbench saves the same file):\n"
         "the product of per-layer-group C_s'/K grids, error-correction modes and seeds. Each finished\n"
         "run is appended to RESULTS.h5 (group /sweeps/<id>, tables runs and layers; pandas.read_hdf\n"
         "reads them) and flushed before the next starts, so an interrupted sweep keeps every finished\n"
         "run; --resume completes the newest sweep of the same spec in the file with the same numbers.\n"
         "A progress bar with ETA and one line per finished run go to stderr, a summary table to stdout.",
         {{"SPEC", "", "the sweep spec, e.g. docs/examples/lenet5-quick.json"},
          {"-o", "RESULTS.h5", "HDF5 results file (required; created when absent, appended to otherwise)"},
          {"--resume", "", "skip the runs already in the newest sweep of RESULTS.h5 with this spec, run the rest;\n"
                           "with --slurm: resubmit only the unfinished shards of the last submission"},
          run_option_spec("threads", "the spec's threads"),
          {"--json", "", "print one JSON object (every run and layer row) instead of the summary table"},
          {"--shard", "I/N", "run only shard I of N (0 <= I < N): the runs whose index i has i mod N == I; merge the\n"
                             "shard files with qcnn merge (docs/cluster.md)"},
          {"--sweep-id", "ID", "the sweep's id (default: the start time, 20250314T093012Z); with --resume, a file\n"
                               "without that sweep starts it"},
          {"--slurm", "", "submit the sweep to Slurm instead of running it: a job array of --shards tasks and a\n"
                          "merge job writing RESULTS.h5; scripts and logs in RESULTS.h5.slurm/ (docs/cluster.md)"},
          {"--shards", "N", "--slurm: array tasks (shards), 1..100000"},
          {"--partition", "P", "--slurm: partition of the jobs (default: the cluster's)"},
          {"--time", "T", "--slurm: time limit of each job, as sbatch --time (default: the partition's)"},
          {"--cpus-per-task", "C", "--slurm: CPUs of each task, also its threads (default: 1)"},
          {"--mem", "M", "--slurm: memory of each job, as sbatch --mem (default: the partition's)"},
          {"--sbatch-arg", "ARG", "--slurm: one more #SBATCH line in both scripts, e.g. --sbatch-arg=--qos=short\n"
                                  "(repeatable)"},
          {"--wait", "", "--slurm: poll squeue and the shard files, show progress, exit 0 once RESULTS.h5 is complete,\n"
                         "1 naming the failed tasks and their logs"},
          {"--dry-run", "", "--slurm: write the scripts, submit nothing"}},
         run_sweep},
        {"merge",
         "merge the shard files of one sweep into one results file",
         "Reads the sweep of every FILE (the shard files of `qcnn sweep --shard I/N` or of a Slurm run) and\n"
         "writes one sweep with every run once to -o (created, or the sweep added to it). The files must\n"
         "hold the same sweep id, spec and model; a run in two files with different numbers is an error\n"
         "naming it, identical copies are kept once. Each run keeps its host, shard and finish time. The\n"
         "sweep is marked completed when every run of the spec is present, incomplete otherwise.",
         {{"FILES", "...", "the shard files"},
          {"-o", "ALL.h5", "the merged results file (required)"},
          {"--sweep-id", "ID", "merge this sweep of each file (default: each file's newest sweep)"}},
         run_merge},
        {"sensitivity",
         "quantize one layer at a time over a grid of settings: which layers tolerate coarse settings",
         "For every selected weight layer and every grid value that fits it, quantizes that layer alone\n"
         "(the others stay float) and evaluates the network on --data: top-1 and top-5 drop against the\n"
         "float network, the layer's relative response error, compression, theoretical and measured\n"
         "speed-up and bytes (docs/auto.md). The runs are a one-at-a-time sweep kept in -o under\n"
         "/sensitivity/<id> (the sweeps' tables; pandas.read_hdf reads them): asked again with the same\n"
         "model and options, the table is read back instead of rerun; an interrupted analysis resumes.\n"
         "`qcnn auto` builds on it.",
         options({{model_option(),
          data_option(),
          {"--layers", "L", "layers to analyse: conv, fc, aliases (conv2) or node names, comma-separated\n"
                            "(default: conv,fc = every weight layer)"},
          {"--grid", "G", "settings C_s'/K to try per layer, comma-separated (default: 2/16,4/16,4/32,4/64,8/16,\n"
                          "8/32,8/64,8/128,16/64,16/256; values that do not fit a layer are listed and skipped)"},
          run_option_spec("ec")},
         run_detail_options(),
         preprocessing_options(),
         {run_option_spec("kernel"),
          {"--parallel", "N", "(layer, setting) runs at once, each on threads / N threads (default: 0 = automatic:\n"
                              "as many as threads and free memory allow; 1 = one after another); same table either way"},
          {"-o", "RESULTS.h5", "HDF5 results file (default: sensitivity.h5; created when absent)"},
          {"--json", "", "print one JSON object (every layer and setting) instead of the table"}}}),
         run_sensitivity},
        {"auto",
         "find per-layer settings automatically: the cheapest verified run within an accuracy budget",
         "Measures each layer's sensitivity (qcnn sensitivity; reused from --results when cached), chooses one\n"
         "setting per layer by an exact knapsack over the estimated drops, verifies the choice with a real run\n"
         "(error correction --ec), and bisects the estimated budget on the verified drop (docs/auto.md). Every\n"
         "candidate is a row of one sweep in --results; the answer is the best verified run, never an\n"
         "estimate. The converse form --min-compression X --objective accuracy finds the most accurate\n"
         "verified run at least X times smaller. Exit 1 when no verified run meets the bound.",
         options({{model_option(),
          data_option(),
          {"--max-drop", "PTS", "top-1 drop allowed against the float network, in points (default: 1.0; with\n"
                                "--min-compression: no bound unless given)"},
          {"--objective", "O", "compression, speedup (theoretical), measured-speedup, memory, or accuracy (with\n"
                               "--min-compression; default: compression, accuracy with --min-compression)"},
          {"--min-compression", "X", "the converse form: at least X times compression, most accurate"},
          {"--ec", "MODE", "error correction of the verification runs: none, layer, network (default: network)"},
          {"--sensitivity-ec", "MODE", "error correction of the sensitivity runs: none or layer (default: none)"},
          {"--time-budget", "T", "wall time of the whole search (90s, 30m, 1.5h; default: no limit): no candidate is\n"
                                 "started that would end after it, taking it to last as long as the longest so far"},
          {"--max-candidates", "N", "verification runs at most (default: 8)"},
          {"--layers", "L", "layers to set: conv, fc, aliases or node names (default: conv,fc); the others stay dense"},
          {"--grid", "G", "settings C_s'/K per layer to choose from (default: qcnn sensitivity's)"}},
         run_detail_options(),
         preprocessing_options(),
         finetune_options(),
         {run_option_spec("kernel"),
          run_option_spec("recipe"),
          {"--parallel", "N", "sensitivity runs at once (qcnn sensitivity --parallel; default: 0 = automatic)"},
          {"--results", "R.h5", "HDF5 results file of the sensitivity table and the candidates (default: qcnn-auto.h5)"},
          {"-o", "FILE", "save the best verified run's quantized model (docs/model-format.md)"},
          {"--json", "", "print one JSON object: settings, top1, top1_float, drop, compression,\n"
                         "theoretical_speedup, measured_speedup, memory_bytes_quantized, candidates"}}}),
         run_auto},
    };
    return table;
}

}  // namespace qcnn::cli
