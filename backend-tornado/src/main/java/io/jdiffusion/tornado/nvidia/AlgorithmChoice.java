package io.jdiffusion.tornado.nvidia;

import java.util.List;

/**
 * The choice of a cuDNN forward algorithm among cudnnGetConvolutionForwardAlgorithm_v7's candidates, in cuDNN's
 * order of preference: the first that succeeded, whose math suits the precision (F16: the candidate's own math
 * type, tensor cores where cuDNN offers them; F32: FMA only, so a tensor-core (TF32) candidate is passed over) and
 * whose workspace, as cudnnGetConvolutionForwardWorkspaceSize reports it under that math, fits the task's
 * workspace array. IMPLICIT_GEMM needs none, so a shape cuDNN supports always has a choice.
 */
final class AlgorithmChoice {
    /** One entry of cudnnConvolutionFwdAlgoPerf_t. */
    record Candidate(int algorithm, int status, long memory, int mathType) {
    }

    /** The algorithm to run, the math type to set on the convolution descriptor and the workspace it needs. */
    record Choice(int algorithm, int mathType, long workspaceBytes) {
        String describe() {
            return algorithmName(algorithm) + " (" + mathName(mathType) + ", " + workspaceBytes + " bytes of workspace)";
        }
    }

    /** The workspace of an algorithm under a math type, or -1 where cuDNN refuses the pair. */
    interface WorkspaceSize {
        long of(int algorithm, int mathType);
    }

    private AlgorithmChoice() {
    }

    /** The choice, or null where no candidate qualifies. */
    static Choice choose(List<Candidate> candidates, boolean half, long workspaceBytes, WorkspaceSize size) {
        for (Candidate c : candidates) {
            if (c.status() != CudnnConv.STATUS_SUCCESS) {
                continue;
            }
            int math;
            if (half) {
                math = c.mathType();
            } else if (c.mathType() == CudnnConv.TENSOR_OP_MATH || c.mathType() == CudnnConv.TENSOR_OP_MATH_ALLOW_CONVERSION) {
                continue;
            } else {
                math = CudnnConv.FMA_MATH;
            }
            long needed = size.of(c.algorithm(), math);
            if (needed >= 0 && needed <= workspaceBytes) {
                return new Choice(c.algorithm(), math, needed);
            }
        }
        return null;
    }

    static String algorithmName(int algorithm) {
        return algorithm >= 0 && algorithm < CudnnConv.ALGORITHMS.length ? CudnnConv.ALGORITHMS[algorithm] : "algorithm " + algorithm;
    }

    static String mathName(int math) {
        return switch (math) {
            case CudnnConv.DEFAULT_MATH -> "default math";
            case CudnnConv.TENSOR_OP_MATH -> "tensor-op math";
            case CudnnConv.TENSOR_OP_MATH_ALLOW_CONVERSION -> "tensor-op math with conversion";
            case CudnnConv.FMA_MATH -> "FMA math";
            default -> "math " + math;
        };
    }
}
