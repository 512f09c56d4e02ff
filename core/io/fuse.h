// Pattern fusion on an imported Network: the decompositions PyTorch's exporter writes for
// ops ONNX lacked at the export opset become one op each, so they run as one kernel.
//   LayerNorm (opset < 17): m = ReduceMean(x, axes [-k..-1]); d = Sub(x, m);
//     v = ReduceMean(Pow(d, 2), same axes); y = Div(d, Sqrt(Add(v, eps))) [Mul gamma] [Add beta]
//     -> LayerNormOp(axis -k, eps, gamma, beta)
//   GELU (exact): y = Mul(Mul(x, Add(Erf(Div(x, sqrt 2)), 1)), 0.5) -> ActivationOp(Gelu)
//   HardSwish (opset < 14): y = Mul(x, HardSigmoid(x; alpha 1/6, beta 1/2)) -> ActivationOp(HardSwish)
// A pattern fuses only when its inner values have no other readers and are not graph
// outputs, and its constants have the values above (within 1e-6 relative); anything else is
// left as it is, which computes the same thing unfused. The fused op takes the place of the
// pattern's last node, so the node order stays topological. Values left without readers
// (the pattern's constants) stay in the table; the importer compacts it afterwards.
#pragma once

#include "core/graph/network.h"

namespace qcnn {

struct FuseStats {
    int layer_norm = 0, gelu = 0, hard_swish = 0;
};

FuseStats fuse_patterns(Network& net);

}  // namespace qcnn
