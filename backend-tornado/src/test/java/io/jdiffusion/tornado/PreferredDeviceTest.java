package io.jdiffusion.tornado;

import org.junit.jupiter.api.Test;
import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;

import java.lang.reflect.Proxy;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Without {@code -Djdiffusion.tornado.device}, the backend runs on the first device of TornadoVM's CUDA backend wherever
 * that backend is installed (with the NVIDIA libraries or without: its Java tensor-core kernels beat the PTX
 * backend's), and on TornadoVM's default device otherwise. Host side: the runtime, backends and devices are stand-ins
 * that answer only what the choice asks.
 */
class PreferredDeviceTest {

    @Test
    void theCudaBackendWinsWhereverItIsInstalledWhateverItsPlace() {
        TornadoDevice ptx = device(TornadoVMBackendType.PTX);
        TornadoDevice cuda = device(TornadoVMBackendType.CUDA);
        assertThat(TornadoDevices.preferred(runtime(ptx, List.of(backend(ptx), backend(cuda))))).isSameAs(cuda);
        assertThat(TornadoDevices.preferred(runtime(cuda, List.of(backend(cuda), backend(ptx))))).isSameAs(cuda);
    }

    @Test
    void withoutTheCudaBackendTornadoVmsDefaultDeviceStays() {
        TornadoDevice ptx = device(TornadoVMBackendType.PTX);
        TornadoDevice opencl = device(TornadoVMBackendType.OPENCL);
        assertThat(TornadoDevices.preferred(runtime(opencl, List.of(backend(opencl), backend(ptx))))).isSameAs(opencl);
        assertThat(TornadoDevices.preferred(runtime(ptx, List.of(backend(ptx))))).isSameAs(ptx);
    }

    @Test
    void aCudaBackendWithoutDevicesIsPassedOver() {
        TornadoDevice opencl = device(TornadoVMBackendType.OPENCL);
        assertThat(TornadoDevices.preferred(runtime(opencl, List.of(backend(), backend(opencl))))).isSameAs(opencl);
    }

    private static TornadoDevice device(TornadoVMBackendType type) {
        return stub(TornadoDevice.class, (method, args) -> switch (method) {
            case "getTornadoVMBackend" -> type;
            case "toString" -> type + " device";
            default -> throw new UnsupportedOperationException(method);
        });
    }

    /** A backend holding the given devices (none: an installed backend that found no device). */
    private static TornadoBackend backend(TornadoDevice... devices) {
        return stub(TornadoBackend.class, (method, args) -> switch (method) {
            case "getNumDevices" -> devices.length;
            case "getDevice" -> devices[(int) args[0]];
            case "toString" -> "backend of " + devices.length + " devices";
            default -> throw new UnsupportedOperationException(method);
        });
    }

    private static TornadoRuntime runtime(TornadoDevice defaultDevice, List<TornadoBackend> backends) {
        return stub(TornadoRuntime.class, (method, args) -> switch (method) {
            case "getNumBackends" -> backends.size();
            case "getBackend" -> backends.get((int) args[0]);
            case "getDefaultDevice" -> defaultDevice;
            default -> throw new UnsupportedOperationException(method);
        });
    }

    private interface Answer {
        Object answer(String method, Object[] args);
    }

    private static <T> T stub(Class<T> type, Answer answer) {
        return type.cast(Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[]{type},
                (proxy, method, args) -> answer.answer(method.getName(), args)));
    }
}
