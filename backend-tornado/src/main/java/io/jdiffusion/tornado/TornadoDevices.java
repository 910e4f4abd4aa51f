package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.TornadoBackend;
import uk.ac.manchester.tornado.api.TornadoRuntime;
import uk.ac.manchester.tornado.api.common.TornadoDevice;
import uk.ac.manchester.tornado.api.enums.TornadoVMBackendType;
import uk.ac.manchester.tornado.api.runtime.TornadoRuntimeProvider;

import java.util.Optional;

/** Finds the TornadoVM device jdiffusion runs on: {@value TornadoSettings#DEVICE} = "backend:device", else the preferred one. */
final class TornadoDevices {
    private TornadoDevices() {
    }

    static TornadoDevice selected() {
        TornadoRuntime runtime = TornadoRuntimeProvider.getTornadoRuntime();
        if (runtime.getNumBackends() == 0) {
            throw new IllegalStateException("no TornadoVM backend is installed (check $TORNADOVM_HOME/etc/tornado.backend)");
        }
        Optional<int[]> wanted = TornadoSettings.device();
        if (wanted.isEmpty()) {
            return preferred(runtime);
        }
        int backend = wanted.get()[0];
        int device = wanted.get()[1];
        if (backend < runtime.getNumBackends() && device < runtime.getBackend(backend).getNumDevices()) {
            return runtime.getBackend(backend).getDevice(device);
        }
        throw new IllegalArgumentException("-D" + TornadoSettings.DEVICE + "=" + backend + ":" + device + " names no device; use one of "
                + listing(runtime));
    }

    /** TornadoVM's "backend:device" indices of {@code device} (as -Dtornado's device properties take them). */
    static String indices(TornadoDevice device) {
        return device.getBackendIndex() + ":" + deviceIndex(device);
    }

    /** The index of {@code device} among its TornadoVM backend's devices. */
    static int deviceIndex(TornadoDevice device) {
        int b = device.getBackendIndex();
        TornadoBackend backend = TornadoRuntimeProvider.getTornadoRuntime().getBackend(b);
        for (int d = 0; d < backend.getNumDevices(); d++) {
            if (backend.getDevice(d) == device || backend.getDevice(d).getPhysicalDevice() == device.getPhysicalDevice()) {
                return d;
            }
        }
        throw new IllegalStateException(device.getDeviceName() + " is not among the devices of TornadoVM backend " + b);
    }

    /**
     * Without a choice: the first GPU of TornadoVM's CUDA backend where it is installed, else TornadoVM's default
     * device. With cuBLAS and cuDNN it is the fastest path by far; without them it still runs the Java tensor-core
     * kernels faster than the PTX backend (its GEMM copies its tiles with {@code cp.async}, and NVRTC compiles a
     * kernel's tasks once): on an H100 the F16 UNet call took 55.5 ms against PTX's 61.3 ms, the VAE decode 46.1
     * against 53.4 ms, and the first 20-step pipeline's preparation 47 s against 147 s (docs/PERFORMANCE.md).
     */
    static TornadoDevice preferred(TornadoRuntime runtime) {
        for (int b = 0; b < runtime.getNumBackends(); b++) {
            TornadoBackend backend = runtime.getBackend(b);
            if (backend.getNumDevices() > 0 && backend.getDevice(0).getTornadoVMBackend() == TornadoVMBackendType.CUDA) {
                return backend.getDevice(0);
            }
        }
        return runtime.getDefaultDevice();
    }

    static String describe(TornadoDevice device) {
        String libraries = "";
        if (usesLibraries(device)) {
            libraries = ", cuBLAS and cuDNN";
        } else if (device.getTornadoVMBackend() == TornadoVMBackendType.CUDA && NvidiaLibraries.missing().isPresent()) {
            libraries = ", Java kernels only: " + NvidiaLibraries.missing().get() + " does not load";
        }
        return device.getPhysicalDevice().getDeviceName() + " (TornadoVM " + backendName(device.getTornadoVMBackend()) + libraries + ")";
    }

    static String backendName(TornadoVMBackendType type) {
        return type.name();
    }

    /**
     * Whether Java kernels may use tensor-core {@code mma}: TornadoVM lowers it on its PTX and CUDA backends (on the
     * CUDA backend the products and attention the NVIDIA libraries take go there first, {@link LibraryProducts}; PoCL
     * lacks cl_khr_fp16 altogether).
     */
    static boolean supportsTensorCores(TornadoDevice device) {
        return device.getTornadoVMBackend() == TornadoVMBackendType.PTX || device.getTornadoVMBackend() == TornadoVMBackendType.CUDA;
    }

    /** Whether F16 products and attention run on the Java tensor-core kernels: tensor cores, and no library takes them. */
    static boolean runsJavaTensorCores(TornadoDevice device) {
        return supportsTensorCores(device) && !usesLibraries(device);
    }

    /** Whether Java kernels may copy global to local memory with {@code cp.async}: on TornadoVM's CUDA backend only. */
    static boolean copiesAsync(TornadoDevice device) {
        return device.getTornadoVMBackend() == TornadoVMBackendType.CUDA && TornadoSettings.asyncCopies();
    }

    /**
     * Whether products and attention go through cuBLAS/cuDNN library tasks: on the CUDA backend (the only one
     * whose stream the libraries join) where the NVIDIA libraries load, unless
     * -D{@value TornadoSettings#LIBRARIES}=false keeps the Java kernels.
     */
    static boolean usesLibraries(TornadoDevice device) {
        return device.getTornadoVMBackend() == TornadoVMBackendType.CUDA && TornadoSettings.libraries()
                && NvidiaLibraries.missing().isEmpty();
    }

    /** Whether an F16 request computes in F16 here: on tensor cores (PTX) or through the libraries (CUDA). */
    static boolean computesHalf(TornadoDevice device) {
        return supportsTensorCores(device) || usesLibraries(device);
    }

    /**
     * Whether an execution plan is replayed as a CUDA graph (PTX and CUDA backends), unless
     * -D{@value TornadoSettings#CUDA_GRAPH}=false.
     */
    static boolean usesCudaGraphs(TornadoDevice device) {
        TornadoVMBackendType t = device.getTornadoVMBackend();
        return (t == TornadoVMBackendType.PTX || t == TornadoVMBackendType.CUDA)
                && TornadoSettings.cudaGraph();
    }

    /**
     * Whether the tasks that run one kernel are compiled from Java once ({@link KernelTwins}): where TornadoVM's code
     * cache can write the sources it builds ({@link #writesKernelSources}), unless -D{@value TornadoSettings#KERNEL_TWINS}
     * says otherwise; beside the NVIDIA libraries too (on an H100 the tiny-model, pipeline, cuBLASLt and cuDNN tests
     * pass with it, and the first image came 3 s sooner, docs/PERFORMANCE.md).
     */
    static boolean compilesKernelsOnce(TornadoDevice device) {
        return writesKernelSources(device) && TornadoSettings.kernelTwins();
    }

    /**
     * Undoes the "reset" mark TornadoVM 5.2.0 puts on {@code device} whenever a plan on it frees its memory: a plan
     * that has finished its pre-compilation refuses to launch on a device so marked ("reset() was called after
     * warmup()") until another plan pre-compiles. Freeing a plan resets that plan's own code cache and queues only, so
     * the others' compiled kernels stand; called after every plan this backend frees ({@code ClosingAnExecutableTest}).
     */
    static void keepOtherPlansRunning(TornadoDevice device) {
        device.getDeviceContext().setResetToFalse();
    }

    /** Whether TornadoVM's code cache can write the sources it builds: its OpenCL and CUDA backends (PTX names each kernel after its task). */
    static boolean writesKernelSources(TornadoDevice device) {
        TornadoVMBackendType t = device.getTornadoVMBackend();
        return t == TornadoVMBackendType.OPENCL || t == TornadoVMBackendType.CUDA;
    }

    /**
     * Whether TornadoVM page-locks ({@code cuMemHostRegister}) the host side of every array it puts on the device: its
     * PTX backend always, its CUDA backend unless {@value TornadoSettings#CUDA_HOST_PINNING} is false (the backend's
     * default), OpenCL never.
     */
    static boolean pinsHostArrays(TornadoDevice device) {
        return switch (device.getTornadoVMBackend()) {
            case PTX -> true;
            case CUDA -> TornadoSettings.cudaHostPinning();
            default -> false;
        };
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
