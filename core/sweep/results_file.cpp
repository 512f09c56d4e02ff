// HDF5 results file of sweeps through the HDF5 C API: one group per sweep with string and
// integer attributes, and two chunked, extendable 1-D compound tables (fixed-length, null-padded
// strings) that also carry PyTables' table attributes (CLASS, VERSION, TITLE, FIELD_<i>_NAME), so
// `pandas.read_hdf(file, "/sweeps/<id>/runs")` reads them as data frames.
#include "core/sweep/results_file.h"

#include <hdf5.h>
#include <hdf5_hl.h>
#include <unistd.h>

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <utility>

#include "core/util/error.h"
#include "core/util/hdf5_handle.h"
#include "core/util/host.h"
#include "core/util/json.h"
#include "core/util/parallel.h"

namespace qcnn {

namespace {

using Handle = Hdf5Handle;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Fixed string lengths in bytes (null-padded, no terminator needed).
constexpr size_t kSettingsBytes = 512, kEcBytes = 16, kNameBytes = 256, kAliasBytes = 64, kOpBytes = 8,
                 kHostBytes = 64, kUtcBytes = 24;

// In-memory records of the two tables (the file type is the packed copy of the memory type).
struct RunRecord {
    int64_t run_index;
    char settings[kSettingsBytes];
    char ec[kEcBytes];
    uint64_t seed;
    double top1, top5, top1_float, top5_float, compression, theoretical_speedup, measured_speedup, dense_ms,
        quantized_ms;
    int64_t memory_bytes_dense, memory_bytes_quantized;
    double quantize_seconds, eval_seconds;
    // Schema version 2 (issue 14): the quality of the speed measurement.
    double dense_ms_spread, quantized_ms_spread, measured_speedup_lo, measured_speedup_hi;
    int64_t speed_noisy, dense_reused, speed_rounds, speed_preempted_rounds;
    // Schema version 3 (issue 17): provenance.
    char host[kHostBytes];
    int64_t shard, shards;
    char finished_utc[kUtcBytes];
};

struct LayerRecord {
    int64_t run_index;
    char name[kNameBytes];
    char alias[kAliasBytes];
    char op[kOpBytes];
    int64_t subspace_dim, codewords;
    char ec[kEcBytes];
    int64_t params, bytes_dense, bytes_quantized, flops_dense, flops_quantized;
    double theoretical_speedup, dense_ms, quantized_ms, response_error;
    double dense_ms_spread, quantized_ms_spread;  // schema version 2
};

// A compound type built field by field, remembering the field names in order.
class Compound {
public:
    explicit Compound(size_t size) : type_(H5Tcreate(H5T_COMPOUND, size), H5Tclose) {}
    Compound& add(const char* name, size_t offset, hid_t type) {
        H5Tinsert(type_.get(), name, offset, type);
        names_.emplace_back(name);
        return *this;
    }
    Compound& str(const char* name, size_t offset, size_t bytes) {
        Handle s(H5Tcopy(H5T_C_S1), H5Tclose);
        H5Tset_size(s.get(), bytes);
        H5Tset_strpad(s.get(), H5T_STR_NULLPAD);
        return add(name, offset, s.get());
    }
    hid_t get() const { return type_.get(); }
    const std::vector<std::string>& names() const { return names_; }

private:
    Handle type_;
    std::vector<std::string> names_;
};

#define QCNN_I64(R, f) add(#f, HOFFSET(R, f), H5T_NATIVE_INT64)
#define QCNN_F64(R, f) add(#f, HOFFSET(R, f), H5T_NATIVE_DOUBLE)
#define QCNN_STR(R, f) str(#f, HOFFSET(R, f), sizeof(R::f))

// The tables' compound types as written by schema `version` (a version-1 table lacks the
// speed-quality fields; reading one leaves them to the caller).
Compound run_type(int64_t version = kResultsSchemaVersion) {
    Compound c(sizeof(RunRecord));
    c.QCNN_I64(RunRecord, run_index).QCNN_STR(RunRecord, settings).QCNN_STR(RunRecord, ec);
    c.add("seed", HOFFSET(RunRecord, seed), H5T_NATIVE_UINT64);
    c.QCNN_F64(RunRecord, top1).QCNN_F64(RunRecord, top5).QCNN_F64(RunRecord, top1_float);
    c.QCNN_F64(RunRecord, top5_float).QCNN_F64(RunRecord, compression).QCNN_F64(RunRecord, theoretical_speedup);
    c.QCNN_F64(RunRecord, measured_speedup).QCNN_F64(RunRecord, dense_ms).QCNN_F64(RunRecord, quantized_ms);
    c.QCNN_I64(RunRecord, memory_bytes_dense).QCNN_I64(RunRecord, memory_bytes_quantized);
    c.QCNN_F64(RunRecord, quantize_seconds).QCNN_F64(RunRecord, eval_seconds);
    if (version >= 2) {
        c.QCNN_F64(RunRecord, dense_ms_spread).QCNN_F64(RunRecord, quantized_ms_spread);
        c.QCNN_F64(RunRecord, measured_speedup_lo).QCNN_F64(RunRecord, measured_speedup_hi);
        c.QCNN_I64(RunRecord, speed_noisy).QCNN_I64(RunRecord, dense_reused).QCNN_I64(RunRecord, speed_rounds);
        c.QCNN_I64(RunRecord, speed_preempted_rounds);
    }
    if (version >= 3) {
        c.QCNN_STR(RunRecord, host).QCNN_I64(RunRecord, shard).QCNN_I64(RunRecord, shards);
        c.QCNN_STR(RunRecord, finished_utc);
    }
    return c;
}

Compound layer_type(int64_t version = kResultsSchemaVersion) {
    Compound c(sizeof(LayerRecord));
    c.QCNN_I64(LayerRecord, run_index).QCNN_STR(LayerRecord, name).QCNN_STR(LayerRecord, alias);
    c.QCNN_STR(LayerRecord, op).QCNN_I64(LayerRecord, subspace_dim).QCNN_I64(LayerRecord, codewords);
    c.QCNN_STR(LayerRecord, ec).QCNN_I64(LayerRecord, params).QCNN_I64(LayerRecord, bytes_dense);
    c.QCNN_I64(LayerRecord, bytes_quantized).QCNN_I64(LayerRecord, flops_dense);
    c.QCNN_I64(LayerRecord, flops_quantized).QCNN_F64(LayerRecord, theoretical_speedup);
    c.QCNN_F64(LayerRecord, dense_ms).QCNN_F64(LayerRecord, quantized_ms).QCNN_F64(LayerRecord, response_error);
    if (version >= 2) c.QCNN_F64(LayerRecord, dense_ms_spread).QCNN_F64(LayerRecord, quantized_ms_spread);
    return c;
}

#undef QCNN_I64
#undef QCNN_F64
#undef QCNN_STR

std::string from_fixed(const char* s, size_t n) { return std::string(s, strnlen(s, n)); }

std::string utc_iso(std::time_t t) {
    char buf[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void check_root(const std::string& path, const std::string& root) {
    if (std::find(std::begin(kResultsRoots), std::end(kResultsRoots), root) == std::end(kResultsRoots))
        fail(path, ": '", root, "' is not a results group (sweeps or sensitivity)");
}

herr_t collect_name(hid_t, const char* name, const H5L_info_t*, void* out) {
    static_cast<std::vector<std::string>*>(out)->push_back(name);
    return 0;
}

std::vector<std::string> list_sweeps_in_process(const std::string& path, const std::string& root) {
    const Hdf5Session quiet;
    if (!std::filesystem::exists(path)) fail(path, ": no such file");
    if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, ": not an HDF5 file");
    Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    if (!file.ok())
        fail(path, ": cannot open (locked by another process? HDF5_USE_FILE_LOCKING=FALSE lifts the lock check)");
    std::vector<std::string> ids;
    if (H5Lexists(file.get(), root.c_str(), H5P_DEFAULT) <= 0) return ids;
    Handle group(H5Gopen2(file.get(), root.c_str(), H5P_DEFAULT), H5Gclose);
    if (!group.ok()) fail(path, ": cannot open the group /", root);
    if (H5Literate(group.get(), H5_INDEX_CRT_ORDER, H5_ITER_INC, nullptr, collect_name, &ids) < 0) {
        // Written by another tool without creation-order tracking: name order.
        ids.clear();
        if (H5Literate(group.get(), H5_INDEX_NAME, H5_ITER_INC, nullptr, collect_name, &ids) < 0)
            fail(path, ": cannot list the group /", root);
    }
    return ids;
}

// Results files travel between machines: before this process opens an existing one, libhdf5
// reads all of it in a child process (hdf5_handle.h). Errors there are left to the real open,
// which words them for its caller; only a crash or hang is reported from here.
void probe_results_file(const std::string& path) {
    if (!std::filesystem::exists(path)) return;
    probe_hdf5_file(path, [&] {
        try {
            for (const char* root : kResultsRoots)
                for (const std::string& id : list_sweeps_in_process(path, root)) {
                    const ResultsFile r = ResultsFile::read(path, id, root);
                    (void)r.attributes();
                    (void)r.runs();
                    (void)r.layers();
                }
        } catch (const Error&) {
        }
    });
}

}  // namespace

struct ResultsFile::Impl {
    std::string path, id, root = "sweeps";
    bool writable = false;
    int64_t version = kResultsSchemaVersion;  // of this sweep's tables
    Handle file, group, runs, layers;
    Compound run_mem = run_type(), layer_mem = layer_type();

    std::string where() const { return cat(path, ": ", root == "sweeps" ? "sweep" : root, " '", id, "'"); }

    void set_string(const char* name, const std::string& value) const {
        if (H5LTset_attribute_string(group.get(), ".", name, value.c_str()) < 0)
            fail(where(), ": cannot write attribute '", name, "'");
    }
    void set_int(const char* name, int64_t value) const {
        const long long v = value;
        if (H5LTset_attribute_long_long(group.get(), ".", name, &v, 1) < 0)
            fail(where(), ": cannot write attribute '", name, "'");
    }
    std::string get_string(const char* name) const {
        hsize_t dims = 0;
        H5T_class_t cls{};
        size_t size = 0;
        if (H5Aexists(group.get(), name) <= 0) fail(where(), ": attribute '", name, "' missing");
        if (H5LTget_attribute_info(group.get(), ".", name, &dims, &cls, &size) < 0 || cls != H5T_STRING ||
            size > (size_t(1) << 26))
            fail(where(), ": attribute '", name, "' is not a fixed-length string");
        std::string s(size + 1, '\0');
        if (H5LTget_attribute_string(group.get(), ".", name, s.data()) < 0)
            fail(where(), ": cannot read attribute '", name, "'");
        s.resize(strnlen(s.c_str(), s.size()));
        return s;
    }
    // Attributes added after version 1: "" when absent.
    std::string get_string_or_empty(const char* name) const {
        return H5Aexists(group.get(), name) > 0 ? get_string(name) : std::string();
    }
    int64_t get_int(const char* name) const {
        long long v = 0;
        if (H5Aexists(group.get(), name) <= 0) fail(where(), ": attribute '", name, "' missing");
        if (H5LTget_attribute_long_long(group.get(), ".", name, &v) < 0)
            fail(where(), ": attribute '", name, "' is not an integer");
        return v;
    }

    void flush() const {
        if (H5Fflush(file.get(), H5F_SCOPE_GLOBAL) < 0) fail(path, ": cannot flush the file to disk");
    }

    void create_table(const char* name, const Compound& mem, hsize_t chunk_rows, const std::string& title,
                      Handle& out) const {
        Handle file_type(H5Tcopy(mem.get()), H5Tclose);
        H5Tpack(file_type.get());
        const hsize_t dims = 0, max_dims = H5S_UNLIMITED;
        Handle space(H5Screate_simple(1, &dims, &max_dims), H5Sclose);
        Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
        if (H5Pset_chunk(dcpl.get(), 1, &chunk_rows) < 0 || H5Pset_deflate(dcpl.get(), 4) < 0)
            fail(where(), ": cannot set up the chunked table '", name, "'");
        out = Handle(H5Dcreate2(group.get(), name, file_type.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
                     H5Dclose);
        if (!out.ok()) fail(where(), ": cannot create the table '", name, "'");
        // PyTables' table attributes (what H5TBmake_table writes), so PyTables and pandas
        // read the data set as a Table.
        bool ok = H5LTset_attribute_string(group.get(), name, "CLASS", "TABLE") >= 0 &&
                  H5LTset_attribute_string(group.get(), name, "VERSION", "2.7") >= 0 &&
                  H5LTset_attribute_string(group.get(), name, "TITLE", title.c_str()) >= 0;
        for (size_t i = 0; i < mem.names().size(); ++i)
            ok = ok && H5LTset_attribute_string(group.get(), name, cat("FIELD_", i, "_NAME").c_str(),
                                                mem.names()[i].c_str()) >= 0;
        if (!ok) fail(where(), ": cannot write the attributes of the table '", name, "'");
    }

    Handle open_table(const char* name) const {
        if (H5Lexists(group.get(), name, H5P_DEFAULT) <= 0) fail(where(), ": table '", name, "' missing");
        Handle ds(H5Dopen2(group.get(), name, H5P_DEFAULT), H5Dclose);
        if (!ds.ok()) fail(where(), ": cannot open the table '", name, "'");
        return ds;
    }

    static hsize_t rows(const Handle& ds) {
        Handle space(H5Dget_space(ds.get()), H5Sclose);
        hsize_t n = 0;
        H5Sget_simple_extent_dims(space.get(), &n, nullptr);
        return n;
    }

    template <class Record>
    void append_rows(const Handle& ds, const Compound& mem, const std::vector<Record>& recs, const char* name) const {
        if (recs.empty()) return;
        const hsize_t start = rows(ds), count = recs.size(), total = start + count;
        if (H5Dset_extent(ds.get(), &total) < 0) fail(where(), ": cannot extend the table '", name, "'");
        Handle space(H5Dget_space(ds.get()), H5Sclose);
        Handle mem_space(H5Screate_simple(1, &count, nullptr), H5Sclose);
        if (H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, &start, nullptr, &count, nullptr) < 0 ||
            H5Dwrite(ds.get(), mem.get(), mem_space.get(), space.get(), H5P_DEFAULT, recs.data()) < 0)
            fail(where(), ": cannot write to the table '", name, "'");
    }

    template <class Record>
    std::vector<Record> read_rows(const Handle& ds, const Compound& mem, const char* name) const {
        std::vector<Record> recs(rows(ds));
        if (!recs.empty() && H5Dread(ds.get(), mem.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, recs.data()) < 0)
            fail(where(), ": cannot read the table '", name, "' (not this schema's compound type?)");
        return recs;
    }

    void to_fixed(char* dst, size_t n, const std::string& s, const char* field) const {
        if (s.size() > n)
            fail(where(), ": ", field, " '", s, "' is ", s.size(), " bytes, more than the table's fixed ", n);
        std::memset(dst, 0, n);
        std::memcpy(dst, s.data(), s.size());
    }

    void check_writable() const {
        if (!writable) fail(where(), ": opened read-only");
    }

    // Opens /<root>/<sweep_id> of an existing file and checks its schema version.
    static std::unique_ptr<Impl> open(const std::string& path, const std::string& sweep_id, bool writable,
                                      const std::string& root) {
        check_root(path, root);
        auto impl = std::make_unique<Impl>();
        impl->path = path;
        impl->id = sweep_id;
        impl->root = root;
        impl->writable = writable;
        if (!std::filesystem::exists(path)) fail(path, ": no such file");
        if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, ": not an HDF5 file");
        impl->file = Handle(H5Fopen(path.c_str(), writable ? H5F_ACC_RDWR : H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
        if (!impl->file.ok())
            fail(path, ": cannot open", writable ? " for writing" : "", " (locked by another process",
                 writable ? ", or read-only" : "", "? HDF5_USE_FILE_LOCKING=FALSE lifts the lock check)");
        const std::string group = "/" + root + "/" + sweep_id;
        if (sweep_id.empty() || H5Lexists(impl->file.get(), root.c_str(), H5P_DEFAULT) <= 0 ||
            H5Lexists(impl->file.get(), group.c_str(), H5P_DEFAULT) <= 0) {
            std::string ids;
            for (const std::string& s : list_sweeps_in_process(path, root)) ids += (ids.empty() ? "" : ", ") + s;
            fail(path, ": no ", root == "sweeps" ? "sweep" : root, " '", sweep_id, "' (", root, " in the file: ",
                 ids.empty() ? "none" : ids, ")");
        }
        impl->group = Handle(H5Gopen2(impl->file.get(), group.c_str(), H5P_DEFAULT), H5Gclose);
        if (!impl->group.ok()) fail(impl->where(), ": cannot open the group ", group);
        // Version 1 files stay readable (and resumable: appended rows then lack version 2's
        // columns); newer ones are refused.
        const int64_t version = impl->get_int("schema_version");
        if (version < 1 || version > kResultsSchemaVersion)
            fail(impl->where(), ": schema version ", version, " is not supported (this build reads 1 to ",
                 kResultsSchemaVersion, ")");
        impl->version = version;
        impl->run_mem = run_type(version);
        impl->layer_mem = layer_type(version);
        impl->runs = impl->open_table("runs");
        impl->layers = impl->open_table("layers");
        return impl;
    }
};

ResultsFile::ResultsFile(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultsFile::ResultsFile(ResultsFile&&) noexcept = default;
ResultsFile& ResultsFile::operator=(ResultsFile&& o) noexcept {
    if (this != &o) {
        const Hdf5Session session;  // closing the old file's handles is HDF5 work too
        impl_ = std::move(o.impl_);
    }
    return *this;
}
ResultsFile::~ResultsFile() {
    if (!impl_) return;
    const Hdf5Session session;
    impl_.reset();
}

std::string host_name() {
    char host[256] = {};
    return gethostname(host, sizeof host - 1) == 0 ? std::string(host) : std::string();
}

SweepAttributes environment_attributes() {
    SweepAttributes a;
    a.app_version = QCNN_VERSION;
    a.git_commit = QCNN_GIT_COMMIT;
    a.host = host_name();
    a.cpu_model = cpu_model();
    a.eigen_version = cat(EIGEN_WORLD_VERSION, ".", EIGEN_MAJOR_VERSION, ".", EIGEN_MINOR_VERSION);
    unsigned major = 0, minor = 0, release = 0;
    H5get_libversion(&major, &minor, &release);
    a.hdf5_version = cat(major, ".", minor, ".", release);
    a.threads = hardware_threads();
    a.start_utc = utc_iso(std::time(nullptr));
    a.status = "running";
    return a;
}

ResultsFile ResultsFile::create(const std::string& path, const std::string& sweep_id, const SweepAttributes& attrs,
                                const std::string& root) {
    check_root(path, root);
    probe_results_file(path);
    const Hdf5Session quiet;
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    impl->id = sweep_id;
    impl->root = root;
    impl->writable = true;
    if (sweep_id.empty() || sweep_id.find_first_of("/.") != std::string::npos)
        fail(path, ": bad sweep id '", sweep_id, "' (non-empty, no '/' or '.')");
    if (std::filesystem::exists(path)) {
        if (H5Fis_hdf5(path.c_str()) <= 0) fail(path, ": exists and is not an HDF5 file");
        impl->file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT), H5Fclose);
        if (!impl->file.ok()) fail(path, ": cannot open for writing (locked by another process, or read-only?)");
    } else {
        impl->file = Handle(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
        if (!impl->file.ok()) fail(path, ": cannot create the file");
    }
    const hid_t f = impl->file.get();
    if (H5Lexists(f, root.c_str(), H5P_DEFAULT) <= 0) {
        // Track creation order, so list_sweeps() lists sweeps in the order they were started.
        Handle gcpl(H5Pcreate(H5P_GROUP_CREATE), H5Pclose);
        H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED);
        Handle g(H5Gcreate2(f, root.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT), H5Gclose);
        if (!g.ok()) fail(path, ": cannot create the group /", root);
    }
    const std::string group = "/" + root + "/" + sweep_id;
    if (H5Lexists(f, group.c_str(), H5P_DEFAULT) > 0) fail(path, ": a sweep '", sweep_id, "' already exists");
    impl->group = Handle(H5Gcreate2(f, group.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
    if (!impl->group.ok()) fail(impl->where(), ": cannot create the group ", group);

    impl->set_string("spec", attrs.spec_json);
    impl->set_string("spec_canonical", attrs.spec_canonical);
    impl->set_string("spec_sha256", attrs.spec_sha256);
    impl->set_string("shard", attrs.shard);
    impl->set_string("merged_from", attrs.merged_from);
    impl->set_int("schema_version", kResultsSchemaVersion);
    impl->set_string("app_version", attrs.app_version);
    impl->set_string("git_commit", attrs.git_commit);
    impl->set_string("seeds", attrs.seeds);
    impl->set_string("host", attrs.host);
    impl->set_string("cpu_model", attrs.cpu_model);
    impl->set_int("threads", attrs.threads);
    impl->set_string("qt_version", attrs.qt_version);
    impl->set_string("eigen_version", attrs.eigen_version);
    impl->set_string("hdf5_version", attrs.hdf5_version);
    impl->set_string("start_utc", attrs.start_utc);
    impl->set_string("end_utc", attrs.end_utc);
    impl->set_string("status", attrs.status);
    impl->set_string("model_path", attrs.model_path);
    impl->set_string("model_sha256", attrs.model_sha256);
    impl->set_string("data_spec", attrs.data_spec);
    impl->set_int("samples", attrs.samples);

    impl->create_table("runs", impl->run_mem, 64, "runs: one row per run (docs/sweeps.md)", impl->runs);
    impl->create_table("layers", impl->layer_mem, 256, "layers: one row per run and weight layer (docs/sweeps.md)",
                       impl->layers);
    impl->flush();
    return ResultsFile(std::move(impl));
}

ResultsFile ResultsFile::open(const std::string& path, const std::string& sweep_id, const std::string& root) {
    probe_results_file(path);
    const Hdf5Session quiet;
    auto impl = Impl::open(path, sweep_id, true, root);
    // A process killed between writing a run's layer rows and its run row leaves layer rows of
    // a run that is not in `runs` at the end of `layers`: drop them, the run is redone.
    std::set<int64_t> done;
    for (const RunRecord& r : impl->read_rows<RunRecord>(impl->runs, impl->run_mem, "runs")) done.insert(r.run_index);
    const auto layers = impl->read_rows<LayerRecord>(impl->layers, impl->layer_mem, "layers");
    hsize_t keep = layers.size();
    while (keep > 0 && !done.count(layers[keep - 1].run_index)) --keep;
    if (keep < layers.size()) {
        if (H5Dset_extent(impl->layers.get(), &keep) < 0) fail(impl->where(), ": cannot trim the table 'layers'");
        impl->flush();
    }
    return ResultsFile(std::move(impl));
}

ResultsFile ResultsFile::read(const std::string& path, const std::string& sweep_id, const std::string& root) {
    probe_results_file(path);
    const Hdf5Session quiet;
    return ResultsFile(Impl::open(path, sweep_id, false, root));
}

void ResultsFile::append(const RunRow& run, const std::vector<LayerRow>& layers) {
    const Hdf5Session quiet;
    Impl& m = *impl_;
    m.check_writable();
    RunRecord r{};
    r.run_index = run.run_index;
    m.to_fixed(r.settings, sizeof r.settings, run.settings, "settings");
    m.to_fixed(r.ec, sizeof r.ec, run.ec, "ec");
    r.seed = run.seed;
    r.top1 = run.top1;
    r.top5 = run.top5;
    r.top1_float = run.top1_float;
    r.top5_float = run.top5_float;
    r.compression = run.compression;
    r.theoretical_speedup = run.theoretical_speedup;
    r.measured_speedup = run.measured_speedup;
    r.dense_ms = run.dense_ms;
    r.quantized_ms = run.quantized_ms;
    r.memory_bytes_dense = run.memory_bytes_dense;
    r.memory_bytes_quantized = run.memory_bytes_quantized;
    r.quantize_seconds = run.quantize_seconds;
    r.eval_seconds = run.eval_seconds;
    r.dense_ms_spread = run.dense_ms_spread;
    r.quantized_ms_spread = run.quantized_ms_spread;
    r.measured_speedup_lo = run.measured_speedup_lo;
    r.measured_speedup_hi = run.measured_speedup_hi;
    r.speed_noisy = run.speed_noisy;
    r.dense_reused = run.dense_reused;
    r.speed_rounds = run.speed_rounds;
    r.speed_preempted_rounds = run.speed_preempted_rounds;
    m.to_fixed(r.host, sizeof r.host, run.host, "host");
    r.shard = run.shard;
    r.shards = run.shards;
    m.to_fixed(r.finished_utc, sizeof r.finished_utc, run.finished_utc, "finished_utc");

    std::vector<LayerRecord> recs(layers.size());
    for (size_t i = 0; i < layers.size(); ++i) {
        const LayerRow& l = layers[i];
        LayerRecord& x = recs[i];
        x.run_index = l.run_index;
        m.to_fixed(x.name, sizeof x.name, l.name, "layer name");
        m.to_fixed(x.alias, sizeof x.alias, l.alias, "layer alias");
        m.to_fixed(x.op, sizeof x.op, l.op, "layer op");
        x.subspace_dim = l.subspace_dim;
        x.codewords = l.codewords;
        m.to_fixed(x.ec, sizeof x.ec, l.ec, "layer ec");
        x.params = l.params;
        x.bytes_dense = l.bytes_dense;
        x.bytes_quantized = l.bytes_quantized;
        x.flops_dense = l.flops_dense;
        x.flops_quantized = l.flops_quantized;
        x.theoretical_speedup = l.theoretical_speedup;
        x.dense_ms = l.dense_ms;
        x.quantized_ms = l.quantized_ms;
        x.response_error = l.response_error;
        x.dense_ms_spread = l.dense_ms_spread;
        x.quantized_ms_spread = l.quantized_ms_spread;
    }
    // Layers first: a run counts as finished once its `runs` row exists (see open()).
    m.append_rows(m.layers, m.layer_mem, recs, "layers");
    m.append_rows(m.runs, m.run_mem, std::vector<RunRecord>{r}, "runs");
    m.flush();
}

void ResultsFile::set_status(const std::string& status, const std::string& end_utc) {
    const Hdf5Session quiet;
    impl_->check_writable();
    impl_->set_string("status", status);
    impl_->set_string("end_utc", end_utc);
    impl_->flush();
}

SweepAttributes ResultsFile::attributes() const {
    const Hdf5Session quiet;
    const Impl& m = *impl_;
    SweepAttributes a;
    a.spec_json = m.get_string("spec");
    a.spec_canonical = m.get_string("spec_canonical");
    a.spec_sha256 = m.get_string_or_empty("spec_sha256");
    a.shard = m.get_string_or_empty("shard");
    a.merged_from = m.get_string_or_empty("merged_from");
    a.app_version = m.get_string("app_version");
    a.git_commit = m.get_string("git_commit");
    a.seeds = m.get_string("seeds");
    a.host = m.get_string("host");
    a.cpu_model = m.get_string("cpu_model");
    a.threads = m.get_int("threads");
    a.qt_version = m.get_string("qt_version");
    a.eigen_version = m.get_string("eigen_version");
    a.hdf5_version = m.get_string("hdf5_version");
    a.start_utc = m.get_string("start_utc");
    a.end_utc = m.get_string("end_utc");
    a.status = m.get_string("status");
    a.model_path = m.get_string("model_path");
    a.model_sha256 = m.get_string("model_sha256");
    a.data_spec = m.get_string("data_spec");
    a.samples = m.get_int("samples");
    return a;
}

std::vector<RunRow> ResultsFile::runs() const {
    const Hdf5Session quiet;
    std::vector<RunRow> out;
    for (const RunRecord& r : impl_->read_rows<RunRecord>(impl_->runs, impl_->run_mem, "runs")) {
        RunRow row;
        row.run_index = r.run_index;
        row.settings = from_fixed(r.settings, sizeof r.settings);
        row.ec = from_fixed(r.ec, sizeof r.ec);
        row.seed = r.seed;
        row.top1 = r.top1;
        row.top5 = r.top5;
        row.top1_float = r.top1_float;
        row.top5_float = r.top5_float;
        row.compression = r.compression;
        row.theoretical_speedup = r.theoretical_speedup;
        row.measured_speedup = r.measured_speedup;
        row.dense_ms = r.dense_ms;
        row.quantized_ms = r.quantized_ms;
        row.memory_bytes_dense = r.memory_bytes_dense;
        row.memory_bytes_quantized = r.memory_bytes_quantized;
        row.quantize_seconds = r.quantize_seconds;
        row.eval_seconds = r.eval_seconds;
        const bool v2 = impl_->version >= 2;  // version 1: speed quality unknown
        row.dense_ms_spread = v2 ? r.dense_ms_spread : kNaN;
        row.quantized_ms_spread = v2 ? r.quantized_ms_spread : kNaN;
        row.measured_speedup_lo = v2 ? r.measured_speedup_lo : kNaN;
        row.measured_speedup_hi = v2 ? r.measured_speedup_hi : kNaN;
        row.speed_noisy = v2 ? r.speed_noisy : 0;
        row.dense_reused = v2 ? r.dense_reused : 0;
        row.speed_rounds = v2 ? r.speed_rounds : 0;
        row.speed_preempted_rounds = v2 ? r.speed_preempted_rounds : 0;
        const bool v3 = impl_->version >= 3;  // before: provenance unknown
        row.host = v3 ? from_fixed(r.host, sizeof r.host) : "";
        row.shard = v3 ? r.shard : 0;
        row.shards = v3 ? r.shards : 1;
        row.finished_utc = v3 ? from_fixed(r.finished_utc, sizeof r.finished_utc) : "";
        out.push_back(std::move(row));
    }
    return out;
}

std::vector<LayerRow> ResultsFile::layers() const {
    const Hdf5Session quiet;
    std::vector<LayerRow> out;
    for (const LayerRecord& x : impl_->read_rows<LayerRecord>(impl_->layers, impl_->layer_mem, "layers")) {
        LayerRow l;
        l.run_index = x.run_index;
        l.name = from_fixed(x.name, sizeof x.name);
        l.alias = from_fixed(x.alias, sizeof x.alias);
        l.op = from_fixed(x.op, sizeof x.op);
        l.subspace_dim = x.subspace_dim;
        l.codewords = x.codewords;
        l.ec = from_fixed(x.ec, sizeof x.ec);
        l.params = x.params;
        l.bytes_dense = x.bytes_dense;
        l.bytes_quantized = x.bytes_quantized;
        l.flops_dense = x.flops_dense;
        l.flops_quantized = x.flops_quantized;
        l.theoretical_speedup = x.theoretical_speedup;
        l.dense_ms = x.dense_ms;
        l.quantized_ms = x.quantized_ms;
        l.response_error = x.response_error;
        l.dense_ms_spread = impl_->version >= 2 ? x.dense_ms_spread : kNaN;
        l.quantized_ms_spread = impl_->version >= 2 ? x.quantized_ms_spread : kNaN;
        out.push_back(std::move(l));
    }
    return out;
}

std::vector<std::string> list_sweeps(const std::string& path, const std::string& root) {
    check_root(path, root);
    probe_results_file(path);
    return list_sweeps_in_process(path, root);
}

std::string runs_csv(const std::vector<RunRow>& rows) {
    std::ostringstream os;
    const Compound type = run_type();
    for (size_t i = 0; i < type.names().size(); ++i) os << (i ? "," : "") << type.names()[i];
    os << '\n';
    // Strings are quoted (settings contain commas); numbers in their shortest exact form; NaN
    // (not measured) is an empty cell.
    const auto num = [](double v) { return std::isnan(v) ? std::string() : json::number(v); };
    const auto quote = [](const std::string& v) {
        std::string q = "\"";
        for (char ch : v) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
        return q + "\"";
    };
    for (const RunRow& r : rows) {
        os << r.run_index << ',' << quote(r.settings) << ',' << quote(r.ec) << ',' << r.seed << ','
           << num(r.top1) << ',' << num(r.top5) << ',' << num(r.top1_float) << ',' << num(r.top5_float) << ','
           << num(r.compression) << ',' << num(r.theoretical_speedup) << ',' << num(r.measured_speedup) << ','
           << num(r.dense_ms) << ',' << num(r.quantized_ms) << ',' << r.memory_bytes_dense << ','
           << r.memory_bytes_quantized << ',' << num(r.quantize_seconds) << ',' << num(r.eval_seconds) << ','
           << num(r.dense_ms_spread) << ',' << num(r.quantized_ms_spread) << ',' << num(r.measured_speedup_lo) << ','
           << num(r.measured_speedup_hi) << ',' << r.speed_noisy << ',' << r.dense_reused << ',' << r.speed_rounds
           << ',' << r.speed_preempted_rounds << ',' << quote(r.host) << ',' << r.shard << ',' << r.shards << ','
           << quote(r.finished_utc) << '\n';
    }
    return os.str();
}

}  // namespace qcnn
