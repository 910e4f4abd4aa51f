package io.jdiffusion.tornado;

import io.jdiffusion.backend.Availability;
import io.jdiffusion.backend.Backend;
import io.jdiffusion.backend.BackendProvider;

/**
 * The TornadoVM backend's service entry. This class touches no TornadoVM type, so it loads (and can say
 * why the backend is unavailable) on a JVM started without TornadoVM's module path; everything that
 * needs TornadoVM lives behind {@link TornadoDevices}, loaded only after the checks below pass.
 */
public final class TornadoBackendProvider implements BackendProvider {
    public static final String NAME = "tornado";
    /** A class of TornadoVM's API module; present only when the JVM runs with TornadoVM's flags. */
    private static final String PROBE_CLASS = "uk.ac.manchester.tornado.api.TornadoExecutionPlan";
    /** Set by TornadoVM's argfile; its presence means the runtime's implementation classes are wired in. */
    private static final String RUNTIME_PROPERTY = "tornado.load.runtime.implementation";

    private volatile Availability availability;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int priority() {
        return 100;
    }

    @Override
    public Availability availability() {
        Availability a = availability;
        if (a == null) {
            a = probe();
            availability = a;
        }
        return a;
    }

    private static Availability probe() {
        if (System.getenv("TORNADOVM_HOME") == null && System.getProperty(RUNTIME_PROPERTY) == null) {
            return Availability.no("TornadoVM not installed (set TORNADOVM_HOME)");
        }
        if (System.getProperty(RUNTIME_PROPERTY) == null) {
            return Availability.no("the JVM was started without TornadoVM's flags (add @$TORNADOVM_HOME/tornado-argfile)");
        }
        try {
            Class.forName(PROBE_CLASS, false, TornadoBackendProvider.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return Availability.no("TornadoVM's API is not on the module path (" + e + ")");
        }
        TornadoSettings.applyRuntimeDefaults();
        try {
            TornadoDevices.selected();
            return Availability.yes();
        } catch (RuntimeException | LinkageError e) {
            return Availability.no("TornadoVM found no usable device: " + e.getMessage());
        }
    }

    @Override
    public String deviceDescription() {
        return availability().available() ? TornadoDevices.describe(TornadoDevices.selected()) : availability().reason();
    }

    @Override
    public Backend create() {
        Availability a = availability();
        if (!a.available()) {
            throw new IllegalStateException("backend 'tornado' is unavailable: " + a.reason());
        }
        return new TornadoBackend(TornadoDevices.selected());
    }
}
