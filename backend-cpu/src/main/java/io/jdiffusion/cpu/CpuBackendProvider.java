package io.jdiffusion.cpu;

import io.jdiffusion.backend.Availability;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.BackendProvider;

/**
 * The CPU backend's service entry: available wherever the JVM has the Vector API module, lowest priority so a
 * GPU backend wins when present. The module check comes first and touches no Vector API class, so a JVM
 * started without {@code --add-modules jdk.incubator.vector} hears why before any work starts instead of
 * failing mid-pipeline with NoClassDefFoundError.
 */
public final class CpuBackendProvider implements BackendProvider {
    public static final String NAME = "cpu";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return 10;
    }

    /** The module the kernels are written with; the JVM resolves it only when asked to. */
    static final String VECTOR_MODULE = "jdk.incubator.vector";

    @Override
    public Availability availability() {
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            return Availability.no("the JVM was started without the Vector API: add the flag --add-modules " + VECTOR_MODULE);
        }
        try {
            CpuSettings.threads();
            CpuSettings.forcedVectorBits();
            return Availability.yes();
        } catch (IllegalArgumentException e) {
            return Availability.no(e.getMessage());
        }
    }

    @Override
    public String deviceDescription() {
        if (ModuleLayer.boot().findModule(VECTOR_MODULE).isEmpty()) {
            return "no Vector API";
        }
        return describe(CpuSettings.threads());
    }

    static String describe(int threads) {
        int bits = CpuVectors.bits();
        return threads + (threads == 1 ? " thread, " : " threads, ") + CpuSettings.isaName(bits) + " (" + bits + "-bit vectors)"
                + (CpuSettings.countedLoopSafepoints() ? ""
                : "; counted-loop safepoints off, kernels about 2x slower: add -XX:+UseCountedLoopSafepoints");
    }

    @Override
    public Backend create() {
        return new CpuBackend(CpuSettings.threads());
    }
}
