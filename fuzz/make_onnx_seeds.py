#!/usr/bin/python3
# Writes small ONNX seeds for fuzz_onnx_import: tiny networks with the structure of the
# bundled ones (Conv, BatchNorm, Relu, MaxPool, Flatten, Gemm / MatMul + Add, Softmax) and the
# shape arithmetic PyTorch emits, with a few hundred weights each; and the blocks of the
# torchvision families that brought new ops (issue 13): ConvNeXt's LayerNorm + GELU MLP at
# opsets 13 (decomposed, fused at import) and 17 (LayerNormalization), MobileNet-v3's
# HardSwish / HardSigmoid squeeze-excitation, ShuffleNet's channel shuffle and mean.
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

class TinyConvNeXt(nn.Module):
    def __init__(self):
        super().__init__()
        self.dw = nn.Conv2d(4, 4, 3, padding=1, groups=4)
        self.norm = nn.LayerNorm(4)
        self.fc1 = nn.Linear(4, 8)
        self.fc2 = nn.Linear(8, 4)
    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.fc2(nn.functional.gelu(self.fc1(self.norm(y))))
        return x + y.permute(0, 3, 1, 2)

class TinyMobileV3(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.se1 = nn.Conv2d(4, 2, 1)
        self.se2 = nn.Conv2d(2, 4, 1)
    def forward(self, x):
        y = nn.functional.hardswish(self.conv(x))
        s = nn.functional.hardsigmoid(self.se2(torch.relu(self.se1(y.mean((2, 3), keepdim=True)))))
        return (y * s).mean((2, 3))

class TinyShuffle(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
    def forward(self, x):
        n, c, h, w = x.size()
        y = torch.cat((x[:, : c // 2], self.conv(x)[:, c // 2 :]), 1)
        y = y.view(n, 2, c // 2, h, w).transpose(1, 2).contiguous().view(n, c, h, w)
        return (y - y.mean()).pow(2).sqrt() / 2

for name, model, shape, opset in [("tiny_conv_bn_fc.onnx", Tiny(), (1, 1, 8, 8), 13),
                                  ("tiny_conv1d_matmul.onnx", Tiny1d(), (1, 2, 8), 13),
                                  ("tiny_convnext_block_op13.onnx", TinyConvNeXt(), (1, 4, 5, 5), 13),
                                  ("tiny_convnext_block_op17.onnx", TinyConvNeXt(), (1, 4, 5, 5), 17),
                                  ("tiny_mobilenet_v3_se.onnx", TinyMobileV3(), (1, 3, 6, 6), 13),
                                  ("tiny_shufflenet_div_mean.onnx", TinyShuffle(), (1, 4, 3, 3), 13)]:
    model.eval()
    torch.onnx.export(model, torch.zeros(shape), os.path.join(out, name), opset_version=opset,
                      input_names=["input"], output_names=["output"],
                      dynamic_axes={"input": {0: "batch"}})
