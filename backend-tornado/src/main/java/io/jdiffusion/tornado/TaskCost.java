package io.jdiffusion.tornado;

import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What an operator's launches take of a TornadoVM task graph: the launches, and the bytes of the graph's fixed
 * 8 KiB buffer ({@code highLevelCode} in TornadoVM's {@code TornadoTaskGraph}), where each task is recorded as
 * 15 bytes plus 5 per argument. Argument counts are read from the kernel methods themselves, so a changed
 * signature changes the cost with it.
 */
record TaskCost(int launches, int bytes) {
    static final TaskCost NONE = new TaskCost(0, 0);
    private static final Map<String, Integer> ARGUMENTS = new ConcurrentHashMap<>();

    /** One launch of a task with {@code arguments} arguments (the kernel context counts as one). */
    static TaskCost launch(int arguments) {
        return new TaskCost(1, 15 + 5 * arguments);
    }

    /** One launch each of the named public static methods of {@code kernels}, in any order. */
    static TaskCost of(Class<?> kernels, String... methods) {
        TaskCost sum = NONE;
        for (String m : methods) {
            sum = sum.plus(launch(arguments(kernels, m)));
        }
        return sum;
    }

    TaskCost plus(TaskCost other) {
        return new TaskCost(launches + other.launches, bytes + other.bytes);
    }

    TaskCost times(int n) {
        return new TaskCost(launches * n, bytes * n);
    }

    /** Parameters of the one public static method {@code name} of {@code kernels}. */
    private static int arguments(Class<?> kernels, String name) {
        return ARGUMENTS.computeIfAbsent(kernels.getName() + "." + name, k -> {
            Method found = null;
            for (Method m : kernels.getMethods()) {
                if (m.getName().equals(name) && Modifier.isStatic(m.getModifiers())) {
                    if (found != null) {
                        throw new IllegalStateException(k + " is overloaded: its task cost is ambiguous");
                    }
                    found = m;
                }
            }
            if (found == null) {
                throw new IllegalStateException("no public static method " + k);
            }
            return found.getParameterCount();
        });
    }
}
