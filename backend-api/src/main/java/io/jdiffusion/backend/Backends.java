package io.jdiffusion.backend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/** Finds backends with {@link ServiceLoader} and picks one by name or by priority. */
public final class Backends {
    /** System property naming the backend when no {@code --backend} is given. */
    public static final String PROPERTY = "jdiffusion.backend";

    private Backends() {
    }

    /** Every provider on the class path, highest priority first. */
    public static List<BackendProvider> discover() {
        List<BackendProvider> found = new ArrayList<>();
        for (ServiceLoader.Provider<BackendProvider> p : ServiceLoader.load(BackendProvider.class).stream().toList()) {
            try {
                found.add(p.get());
            } catch (Throwable t) {
                // A provider whose classes cannot load (missing native library, wrong JVM flags) is skipped
                // here; it cannot even say why in availability().
                System.err.println("jdiffusion: backend provider " + p.type().getName() + " failed to load: " + t);
            }
        }
        found.sort(Comparator.comparingInt(BackendProvider::priority).reversed());
        return found;
    }

    /**
     * The provider named {@code name}, else the one named by {@value #PROPERTY}, else the available one
     * with the highest priority. Fails with a message listing the choices when the named one is
     * missing or unavailable.
     */
    public static BackendProvider select(String name) {
        List<BackendProvider> all = discover();
        String wanted = name != null && !name.isBlank() ? name : System.getProperty(PROPERTY);
        if (wanted != null && !wanted.isBlank()) {
            for (BackendProvider p : all) {
                if (p.name().equalsIgnoreCase(wanted.strip())) {
                    Availability a = p.availability();
                    if (!a.available()) {
                        throw new IllegalStateException("backend '" + p.name() + "' is unavailable: " + a.reason());
                    }
                    return p;
                }
            }
            throw new IllegalArgumentException("no backend named '" + wanted + "'; known: "
                    + all.stream().map(BackendProvider::name).collect(Collectors.joining(", ")));
        }
        for (BackendProvider p : all) {
            if (p.availability().available()) {
                return p;
            }
        }
        if (all.isEmpty()) {
            throw new IllegalStateException("no backend is available: no backend provider is on the class path "
                    + "(add the artifact io.jdiffusion:jdiffusion-backend-cpu)");
        }
        throw new IllegalStateException("no backend is available: " + all.stream()
                .map(p -> p.name() + " (" + p.availability().reason() + ")").collect(Collectors.joining(", ")));
    }

    /** Selects and starts a backend, as {@link #select(String)}. */
    public static Backend create(String name) {
        return select(name).create();
    }
}
