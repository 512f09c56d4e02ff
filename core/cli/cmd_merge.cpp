// qcnn merge: the shard files of one sweep (qcnn sweep --shard, the Slurm tasks) into one results
// file (core/sweep/merge.h, docs/cluster.md).
#include "core/cli/command.h"
#include "core/sweep/merge.h"

namespace qcnn::cli {

int run_merge(const Args& args, CommandContext& ctx) {
    const std::vector<std::string> inputs = args.all("FILES");
    if (inputs.empty()) throw UsageError("merge needs the shard files: qcnn merge A.h5 B.h5 ... -o ALL.h5");
    if (!args.has("-o")) throw UsageError("merge needs -o ALL.h5: the results file the merged sweep is written to");
    const std::string out = args.str("-o", "");
    for (const std::string& in : inputs)
        if (in == out) throw UsageError(cat("merge: the output ", out, " is also an input"));
    const MergeOutcome m = merge_results(inputs, out, args.str("--sweep-id", ""));
    ctx.out << "sweep " << m.sweep_id << ": " << m.runs_merged << " of " << m.runs_total << " runs from "
            << inputs.size() << " file(s)";
    if (m.duplicates > 0) ctx.out << " (" << m.duplicates << " identical duplicate(s) kept once)";
    ctx.out << ", " << m.status << "\nresults: " << out << "  (pandas.read_hdf(\"" << out << "\", \"/sweeps/"
            << m.sweep_id << "/runs\"))\n";
    if (!m.missing.empty()) {
        std::string list;
        for (size_t i = 0; i < m.missing.size() && i < 20; ++i) list += cat(i ? ", " : "", m.missing[i]);
        if (m.missing.size() > 20) list += ", ...";
        ctx.err << "qcnn: " << m.missing.size() << " run(s) of the spec are in none of the files (run indices "
                << list << "); the merged sweep is marked incomplete\n";
    }
    return 0;
}

}  // namespace qcnn::cli
