package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

/** Finds the TornadoVM device jdiffusion runs on: {@value #PROPERTY} = "backend:device", else TornadoVM's default. */
final class TornadoDevices {
    static final String PROPERTY = "jdiffusion.tornado.device";

    private TornadoDevices() {
    }

    static TornadoDevice selected() {
        TornadoRuntime runtime = TornadoRuntimeProvider.getTornadoRuntime();
        if (runtime.getNumBackends() == 0) {
            throw new IllegalStateException("no TornadoVM backend is installed (check $TORNADOVM_HOME/etc/tornado.backend)");
        }
        String wanted = System.getProperty(PROPERTY, "").strip();
        if (wanted.isEmpty()) {
            return runtime.getDefaultDevice();
        }
        String[] parts = wanted.split(":");
        try {
            int backend = Integer.parseInt(parts[0]);
            int device = parts.length > 1 ? Integer.parseInt(parts[1]) : 0;
            if (parts.length > 2 || backend < 0 || backend >= runtime.getNumBackends()) {
                throw new NumberFormatException();
            }
            TornadoBackend b = runtime.getBackend(backend);
            if (device < 0 || device >= b.getNumDevices()) {
                throw new NumberFormatException();
            }
            return b.getDevice(device);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("-D" + PROPERTY + "=" + wanted + " names no device; use backend:device, one of "
                    + listing(runtime));
        }
    }

    static String describe(TornadoDevice device) {
        return device.getPhysicalDevice().getDeviceName() + " (TornadoVM " + backendName(device.getTornadoVMBackend()) + ")";
    }

    static String backendName(TornadoVMBackendType type) {
        return type.name();
    }

    /** Whether kernels may use F16 storage (PoCL lacks cl_khr_fp16). */
    static boolean supportsHalf(TornadoDevice device) {
        TornadoVMBackendType t = device.getTornadoVMBackend();
        return t == TornadoVMBackendType.PTX || t == TornadoVMBackendType.CUDA;
    }

    /** Whether the backend records CUDA graphs (PTX and CUDA backends). */
    static boolean supportsCudaGraphs(TornadoDevice device) {
        return supportsHalf(device);
    }

    private static String listing(TornadoRuntime runtime) {
        StringBuilder sb = new StringBuilder();
        for (int b = 0; b < runtime.getNumBackends(); b++) {
            TornadoBackend backend = runtime.getBackend(b);
            for (int d = 0; d < backend.getNumDevices(); d++) {
                if (!sb.isEmpty()) {
                    sb.append(", ");
                }
                sb.append(b).append(':').append(d).append(" = ").append(describe(backend.getDevice(d)));
            }
        }
        return sb.toString();
    }
}
