package io.jdiffusion.tornado;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * System properties set for the length of a try block and put back as they were when it ends (cleared where they
 * were unset). The backend reads its settings when a graph is compiled, so a test sets them around the compilation.
 */
final class TemporaryProperties implements AutoCloseable {
    private final Map<String, String> before = new LinkedHashMap<>();

    private TemporaryProperties() {
    }

    /** Sets each key to the value after it: {@code set(k1, v1, k2, v2, ...)}. */
    static TemporaryProperties set(String... keysAndValues) {
        if (keysAndValues.length % 2 != 0) {
            throw new IllegalArgumentException("keys and values come in pairs, got " + keysAndValues.length + " strings");
        }
        TemporaryProperties p = new TemporaryProperties();
        for (int i = 0; i < keysAndValues.length; i += 2) {
            p.before.putIfAbsent(keysAndValues[i], System.getProperty(keysAndValues[i]));
            System.setProperty(keysAndValues[i], keysAndValues[i + 1]);
        }
        return p;
    }

    @Override
    public void close() {
        before.forEach((key, value) -> {
            if (value == null) {
                System.clearProperty(key);
            } else {
                System.setProperty(key, value);
            }
        });
    }
}
