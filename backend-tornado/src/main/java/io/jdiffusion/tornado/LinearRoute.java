package io.jdiffusion.tornado;

/**
 * How one Linear runs on cuBLASLt ({@link LibraryProducts}), decided from where its operands are stored. cuBLASLt
 * reads and writes one element type per product (F16 in an F16 executable, F32 in an F32 one): an operand stored
 * in that type ("matching": the F16 arena of an F16 executable, any float buffer of an F32 one) is used in place;
 * the others take the simplest correct detour:
 * <ul>
 *   <li>an input x stored in F32 in an F16 executable (a graph input) is first rounded into an F16 staging array;</li>
 *   <li>the product goes into a scratch array, then an epilogue kernel writes the output, when the output has an
 *       activation (GELU is exact erf here, cuBLASLt's GELU epilogue is the tanh approximation; GEGLU pairs
 *       columns), or the output, residual or a non-constant bias is not stored in the product's type;</li>
 *   <li>otherwise cuBLASLt writes the output itself, the bias through its bias epilogue, the residual as C with
 *       beta = 1.</li>
 * </ul>
 * A constant bias always rides in cuBLASLt's bias epilogue: it is converted to the product's type when the graph
 * is compiled and stored after the weight.
 *
 * @param stageInput     x is rounded into the F16 staging array first
 * @param biasInGemm     the bias is added by cuBLASLt's bias epilogue (else by the epilogue kernel, if there is one)
 * @param throughScratch the product goes to the scratch array and an epilogue kernel writes the output
 */
record LinearRoute(boolean stageInput, boolean biasInGemm, boolean throughScratch) {
    /** Where an optional operand (bias, residual) is stored. */
    enum Operand {
        NONE,
        /** A constant (only the bias is looked at for this). */
        CONSTANT,
        /** Stored in the product's element type. */
        MATCHING,
        /** Stored in another element type. */
        OTHER
    }

    static LinearRoute choose(boolean xMatches, boolean outMatches, boolean activation, Operand bias, Operand residual) {
        boolean biasInGemm = bias == Operand.CONSTANT || bias == Operand.MATCHING;
        boolean scratch = activation || !outMatches || residual == Operand.OTHER || bias == Operand.OTHER;
        return new LinearRoute(!xMatches, biasInGemm, scratch);
    }

    /** Whether the residual is cuBLASLt's C (added with beta = 1) rather than the epilogue kernel's. */
    boolean residualInGemm(boolean hasResidual) {
        return hasResidual && !throughScratch;
    }
}
