package io.jdiffusion.tornado.nvidia;

import uk.ac.manchester.tornado.api.common.LibraryTaskDescriptor;

/**
 * The tuning of one attention library task ({@link CudnnAttentionProvider}): its {@link SdpaShape} and where Q, K, V
 * and O live, as (task argument, element offset) in F16 arrays, and the workspace: a whole array of at least
 * {@code workspaceBytes} plus {@link CudnnConvProvider#WORKSPACE_ALIGNMENT} bytes.
 */
public record CudnnAttention(SdpaShape shape, CudnnConvolution.Operand q, CudnnConvolution.Operand k, CudnnConvolution.Operand v,
                             CudnnConvolution.Operand o, int workspace, long workspaceBytes) {
    public static final String FUNCTION = "sdpa";

    public CudnnAttention {
        if (shape == null || q == null || k == null || v == null || o == null || workspace < 0 || workspaceBytes < 0) {
            throw new IllegalArgumentException("an attention needs its shape, q, k, v, o and a workspace");
        }
    }

    /** What the provider plans once. */
    record PlanKey(SdpaShape shape, long workspaceBytes) {
    }

    PlanKey planKey() {
        return new PlanKey(shape, workspaceBytes);
    }

    /** The library task: {@code arguments} as its parameters, this record as its tuning. */
    public LibraryTaskDescriptor descriptor(CudnnConvolution.Arguments arguments) {
        return new LibraryTaskDescriptor().withLibrary(CudnnAttentionProvider.NAME).withFunction(FUNCTION)
                .withParameters(arguments.arrays().toArray()).withAccess(arguments.access()).withTuning(this);
    }
}
