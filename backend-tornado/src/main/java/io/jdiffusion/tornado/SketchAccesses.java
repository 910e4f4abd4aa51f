package io.jdiffusion.tornado;

import uk.ac.manchester.tornado.api.common.Access;
import uk.ac.manchester.tornado.api.common.TornadoDevice;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Arrays;

/**
 * The accesses TornadoVM's sketcher deduced for a kernel's arguments (what a compiled task is given), for the
 * prebuilt tasks that run the same kernel ({@link KernelTwins}). Reached by reflection: the sketcher's lookup takes
 * Graal's {@code ResolvedJavaMethod}, a type of a JDK module that TornadoVM's launcher exports to its own modules only.
 */
final class SketchAccesses {
    private SketchAccesses() {
    }

    /** {@code method}'s argument accesses on {@code device}; the method must have been sketched (added to a task graph) for it. */
    static Access[] of(Method method, TornadoDevice device) {
        try {
            Class<?> runtimeClass = Class.forName("uk.ac.manchester.tornado.runtime.TornadoCoreRuntime");
            Object runtime = runtimeClass.getMethod("getTornadoRuntime").invoke(null);
            Object resolved = runtimeClass.getMethod("resolveMethod", Method.class).invoke(runtime, method);
            Class<?> sketcher = Class.forName("uk.ac.manchester.tornado.runtime.sketcher.TornadoSketcher");
            Method lookup = Arrays.stream(sketcher.getMethods())
                    .filter(m -> m.getName().equals("lookup") && m.getParameterCount() == 3)
                    .findFirst().orElseThrow(() -> new NoSuchMethodException("TornadoSketcher.lookup(method, backend, device)"));
            Object sketch = lookup.invoke(null, resolved, device.getBackendIndex(), TornadoDevices.deviceIndex(device));
            return ((Access[]) sketch.getClass().getMethod("getArgumentsAccess").invoke(sketch)).clone();
        } catch (InvocationTargetException e) {
            throw new IllegalStateException("TornadoVM's sketch of " + method.getName() + " has no argument accesses: " + e.getCause(), e.getCause());
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("TornadoVM's sketcher cannot be reached (set -D" + TornadoSettings.KERNEL_TWINS
                    + "=false to compile every task from Java): " + e, e);
        }
    }
}
