#!/usr/bin/python3
# Writes small ONNX seeds for fuzz_onnx_import: tiny networks with the structure of the
# bundled ones (Conv, BatchNorm, Relu, MaxPool, Flatten, Gemm / MatMul + Add, Softmax) and the
# shape arithmetic PyTorch emits, with a few hundred weights each.
import os
import torch, torch.nn as nn

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "fuzz_onnx_import")
torch.manual_seed(8)

class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3, padding=1)
        self.bn = nn.BatchNorm2d(2)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(2 * 4 * 4, 3)
    def forward(self, x):
        x = self.pool(torch.relu(self.bn(self.conv(x))))
        return torch.softmax(self.fc(x.reshape(x.shape[0], -1)), dim=1)

class Tiny1d(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv1d(2, 3, 3, groups=1)
        self.fc = nn.Linear(3, 2, bias=False)
    def forward(self, x):
        y = nn.functional.avg_pool1d(torch.tanh(self.conv(x)), 2)
        return self.fc(y.mean(dim=2)) + 1.0

for name, model, shape in [("tiny_conv_bn_fc.onnx", Tiny(), (1, 1, 8, 8)),
                           ("tiny_conv1d_matmul.onnx", Tiny1d(), (1, 2, 8))]:
    model.eval()
    torch.onnx.export(model, torch.zeros(shape), os.path.join(out, name), opset_version=13,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}})
