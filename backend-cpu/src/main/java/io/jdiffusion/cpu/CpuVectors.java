package io.jdiffusion.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * The float species every kernel uses, fixed once per JVM at class initialisation: static final, so the
 * JIT sees a constant and compiles each Vector API call to machine instructions. {@link CpuSettings#VECTOR_BITS}
 * forces 128, 256 or 512 bits (tests run the conformance suite once per width, each in its own JVM).
 */
final class CpuVectors {
    static final VectorSpecies<Float> F = choose();
    /** Lanes per vector. */
    static final int L = F.length();
    static final ByteOrder ORDER = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ORDER);

    private CpuVectors() {
    }

    private static VectorSpecies<Float> choose() {
        int bits = CpuSettings.forcedVectorBits();
        if (bits == 0) {
            return FloatVector.SPECIES_PREFERRED;
        }
        return FloatVector.SPECIES_PREFERRED.withShape(VectorShape.forBitSize(bits));
    }

    static int bits() {
        return F.vectorBitSize();
    }
}
