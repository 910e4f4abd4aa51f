package io.jdiffusion.cpu;

import io.jdiffusion.backend.Availability;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.BackendProvider;

/** The CPU backend's service entry: always available, lowest priority so a GPU backend wins when present. */
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

    @Override
    public Availability availability() {
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
        return describe(CpuSettings.threads());
    }

    static String describe(int threads) {
        int bits = CpuVectors.bits();
        return threads + (threads == 1 ? " thread, " : " threads, ") + CpuSettings.isaName(bits) + " (" + bits + "-bit vectors)";
    }

    @Override
    public Backend create() {
        return new CpuBackend(CpuSettings.threads());
    }
}
