#!/usr/bin/env python3
"""Does cuDNN's legacy convolution keep its tensor-core kernel on operands that are not 256-byte aligned, and does it
take a filter already in NHWC beside NCHW activations?

jdiffusion's CUDA backend hands cuDNN operands inside TornadoVM arrays: each pointer is the array's device base,
past a 16-byte header, plus an element offset, so operands are 16-byte aligned but not 32, and so is the workspace.
Nsight Compute showed some layers that cudnnFindConvolutionForwardAlgorithm measured on tensor cores (on buffers it
allocates itself, 256-byte aligned) running cuDNN's SIMT kernel on ours. This times cudnnConvolutionForward
(IMPLICIT_PRECOMP_GEMM, tensor-op math, F16 with F32 compute, NCHW) on SD 1.5's shapes with x, y and the workspace
shifted by a few bytes from aligned allocations (so is the filter), with beta 0 and 1, and with the filter in NHWC
(KRSC) as well as NCHW: Nsight Compute showed cuDNN transposing every filter at every call (2.7 ms of a UNet call
on an H200, as in PyTorch's channels-first call), so the effect of each is seen apart.

  python3 cudnn_alignment_probe.py        (on the GPU machine; uses PyTorch's CUDA allocations and its cuDNN)
"""

import ctypes
import glob
import os
import statistics
import sys

import torch

HALF, FLOAT = 2, 0
NCHW = 0
NHWC = 1
CROSS_CORRELATION = 1
TENSOR_OP_MATH = 1
IMPLICIT_PRECOMP_GEMM = 1


def load_cudnn():
    import nvidia.cudnn
    for base in nvidia.cudnn.__path__:
        for path in sorted(glob.glob(os.path.join(base, "lib", "libcudnn.so*"))):
            return ctypes.CDLL(path)
    return ctypes.CDLL("libcudnn.so.9")


lib = load_cudnn()
vp = ctypes.c_void_p


def check(status, what):
    if status != 0:
        lib.cudnnGetErrorString.restype = ctypes.c_char_p
        raise RuntimeError(f"{what}: {lib.cudnnGetErrorString(status).decode()} ({status})")


def create(fn):
    p = vp()
    check(getattr(lib, fn)(ctypes.byref(p)), fn)
    return p


def tensor(n, c, h, w):
    d = create("cudnnCreateTensorDescriptor")
    check(lib.cudnnSetTensor4dDescriptorEx(d, HALF, n, c, h, w, c * h * w, h * w, w, 1), "tensor")
    return d


def probe(handle, n, c, h, w, k, stride, x_shift, y_shift, w_shift, ws_shift, beta, filter_format):
    oh, ow = (h + 2 - 3) // stride + 1, (w + 2 - 3) // stride + 1
    xd, yd = tensor(n, c, h, w), tensor(n, k, oh, ow)
    wd = create("cudnnCreateFilterDescriptor")
    check(lib.cudnnSetFilter4dDescriptor(wd, HALF, filter_format, k, c, 3, 3), "filter")
    cd = create("cudnnCreateConvolutionDescriptor")
    check(lib.cudnnSetConvolution2dDescriptor(cd, 1, 1, stride, stride, 1, 1, CROSS_CORRELATION, FLOAT), "conv")
    check(lib.cudnnSetConvolutionMathType(cd, TENSOR_OP_MATH), "math")
    size = ctypes.c_size_t()
    status = lib.cudnnGetConvolutionForwardWorkspaceSize(handle, xd, wd, cd, yd, IMPLICIT_PRECOMP_GEMM, ctypes.byref(size))
    if status != 0:
        return f"refused ({status})"
    # byte buffers with room for the shift; the operand starts `shift` bytes past an aligned allocation
    xb = torch.randn(n * c * h * w + 256, device="cuda", dtype=torch.float16)
    wb = torch.randn(k * c * 9 + 256, device="cuda", dtype=torch.float16) * 0.05
    yb = torch.zeros(n * k * oh * ow + 256, device="cuda", dtype=torch.float16)
    ws = torch.empty(size.value + 512, device="cuda", dtype=torch.uint8)
    one, b = ctypes.c_float(1.0), ctypes.c_float(beta)

    def run():
        check(lib.cudnnConvolutionForward(handle, ctypes.byref(one), xd, vp(xb.data_ptr() + x_shift), wd, vp(wb.data_ptr() + w_shift), cd,
                                          IMPLICIT_PRECOMP_GEMM, vp(ws.data_ptr() + ws_shift), ctypes.c_size_t(size.value),
                                          ctypes.byref(b), yd, vp(yb.data_ptr() + y_shift)), "forward")

    for _ in range(3):
        run()
    torch.cuda.synchronize()
    times = []
    for _ in range(10):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        run()
        e.record()
        e.synchronize()
        times.append(s.elapsed_time(e) * 1e3)
    for d in (xd, yd):
        lib.cudnnDestroyTensorDescriptor(d)
    lib.cudnnDestroyFilterDescriptor(wd)
    lib.cudnnDestroyConvolutionDescriptor(cd)
    return f"{statistics.median(times):7.1f}"


def main():
    handle = create("cudnnCreate")
    check(lib.cudnnSetStream(handle, vp(torch.cuda.current_stream().cuda_stream)), "stream")
    print(f"cuDNN {lib.cudnnGetVersion()} on {torch.cuda.get_device_name(0)}")
    shapes = [(2, 320, 64, 64, 320, 1), (2, 320, 64, 64, 320, 2), (2, 320, 32, 32, 640, 1), (2, 640, 32, 32, 640, 1),
              (2, 1280, 16, 16, 1280, 1), (2, 2560, 8, 8, 1280, 1), (2, 320, 64, 64, 4, 1)]
    # byte shifts of x, y, the filter and the workspace from 256-byte aligned allocations, and beta
    # and the filter's format: NCHW (KCRS) as x and y, or NHWC (KRSC, the layout the tensor-core kernels read,
    # which cuDNN otherwise transposes the filter into at every call)
    configs = [(0, 0, 0, 0, 0, NCHW), (16, 16, 16, 16, 0, NCHW), (48, 48, 16, 16, 0, NCHW), (80, 80, 16, 16, 0, NCHW),
               (144, 144, 16, 16, 0, NCHW), (16, 16, 16, 16, 1, NCHW), (0, 0, 16, 0, 0, NCHW), (0, 0, 0, 16, 0, NCHW),
               (16, 0, 0, 0, 0, NCHW), (0, 16, 0, 0, 0, NCHW), (32, 32, 32, 32, 0, NCHW), (64, 64, 64, 64, 0, NCHW),
               (128, 128, 128, 128, 0, NCHW), (0, 0, 0, 0, 0, NHWC), (0, 0, 0, 0, 1, NHWC), (16, 16, 16, 16, 0, NHWC)]
    print("shape (n c h w -> k, stride)      x+  y+  w+ ws+ beta filter      us")
    for n, c, h, w, k, stride in shapes:
        for x_shift, y_shift, w_shift, ws_shift, beta, fmt in configs:
            us = probe(handle, n, c, h, w, k, stride, x_shift, y_shift, w_shift, ws_shift, beta, fmt)
            print(f"{n}x{c}x{h}x{w} -> {k}, s{stride}".ljust(33)
                  + f" {x_shift:>3} {y_shift:>3} {w_shift:>3} {ws_shift:>3} {beta:>4} {'NHWC' if fmt else 'NCHW':>6} {us:>7}", flush=True)
    lib.cudnnDestroy(handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
