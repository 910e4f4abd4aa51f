package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.TensorCoreAttention;

import java.lang.reflect.Method;
import java.util.regex.Pattern;

/**
 * The edits jdiffusion makes to the CUDA C that TornadoVM's CUDA backend generates from its Java kernels, before NVRTC
 * builds it ({@link KernelSources}); TornadoVM passes NVRTC no options of the caller's, so what a compiler flag would
 * say goes into the source:
 * <ul>
 *   <li>the tensor-core kernels' launch bounds ({@link LaunchBounds});</li>
 *   <li>{@code attentionFastExp}: the flash attention's exponentials as {@code __expf} (the multiprocessor's
 *   {@code ex2.approx} after one multiplication) instead of {@code exp}, which NVRTC builds as the accurate
 *   {@code expf}, some eight instructions, without {@code -use_fast_math}. The kernel takes 32 exponentials a lane
 *   per key tile, beside 56 tensor-core instructions a warp at heads of 40. {@code __expf}'s error, 2 + 1.2 |x|
 *   units in the last place (about 5e-6 relative at x = -30, where the weight is already below F16's smallest), is
 *   far under the F16 rounding the weights then get (2^-11). On an H100 it took 0.8-0.9 ms off a UNet call on the
 *   Java kernels (docs/PERFORMANCE.md). TornadoVM's PTX backend already builds {@code exp} from
 *   {@code ex2.approx}.</li>
 * </ul>
 * Sources of other kernels and other backends (OpenCL C) are left as they are.
 *
 * @param bounds           the launch bounds
 * @param attentionFastExp whether the flash attention's {@code exp} becomes {@code __expf}
 */
record SourceEdits(LaunchBounds bounds, boolean attentionFastExp) {
    /** No edits: every kernel as TornadoVM generated it. */
    static final SourceEdits NONE = new SourceEdits(LaunchBounds.NONE, false);
    /** A call of {@code exp} (not of {@code ldexp}, {@code frexp} or another name ending so). */
    private static final Pattern EXP_CALL = Pattern.compile("(?<![A-Za-z0-9_])exp\\(");
    /** How TornadoVM's CUDA backend opens a kernel: the modifier, the return type and the name, then the parameters. */
    static final String CUDA_KERNEL = "extern \"C\" __global__ void ";

    /** The edits the settings ask for. */
    static SourceEdits fromSettings() {
        return new SourceEdits(LaunchBounds.fromSettings(), TornadoSettings.attentionFastExp());
    }

    /** {@code source} of {@code kernel} with the edits that apply to it. */
    String apply(Method kernel, String source) {
        String edited = bounds.apply(kernel, source);
        if (attentionFastExp && edited.contains(CUDA_KERNEL) && isFlashAttention(kernel)) {
            edited = EXP_CALL.matcher(edited).replaceAll("__expf(");
        }
        return edited;
    }

    /** Whether {@code kernel} is the tensor-core flash attention. */
    static boolean isFlashAttention(Method kernel) {
        return kernel.getDeclaringClass() == TensorCoreAttention.class && kernel.getName().equals("attention");
    }
}
