package io.jdiffusion.backend;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import java.util.stream.Collectors;

/**
 * Finds backends with {@link ServiceLoader} and picks one by name or by priority. A backend is a jar on the
 * class path (or module path) that provides {@link BackendProvider}: {@code jdiffusion-backend-cpu} (needs
 * {@code --add-modules jdk.incubator.vector}) and {@code jdiffusion-backend-tornado} (needs a TornadoVM JVM).
 * Every method looks the providers up again, so it sees the class path as it is; all are safe to call from
 * any thread.
 */
public final class Backends {
    /** System property naming the backend when no {@code --backend} is given. */
    public static final String PROPERTY = "jdiffusion.backend";

    private Backends() {
    }

    /**
     * Every provider on the class path, including those that cannot run here (ask each for its
     * {@link BackendProvider#availability()}). A provider whose classes fail to load is left out with one line on
     * standard error naming it and the failure.
     *
     * @return the providers, highest priority first; empty when none is on the class path
     */
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
     * Picks a provider without starting it: the one named {@code name}, else the one named by the system
     * property {@value #PROPERTY}, else the available one with the highest priority.
     *
     * @param name a provider's name, matched ignoring case and surrounding blanks; null or blank to let the
     *             property or the priority choose
     * @return an available provider
     * @throws IllegalArgumentException if no provider has the name asked for (the message lists the known ones)
     * @throws IllegalStateException    if the provider asked for is unavailable (the message says why), or if none
     *                                  is available (the message lists each provider with its reason, or says
     *                                  which artifact to add when there is none)
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

    /**
     * Selects a provider as {@link #select(String)} does and starts its backend (the CPU backend starts its
     * worker threads; a GPU backend opens its device).
     *
     * @param name a provider's name, or null or blank to let {@value #PROPERTY} or the priority choose
     * @return a started backend; the caller owns it and closes it when done
     * @throws IllegalArgumentException if no provider has the name asked for
     * @throws IllegalStateException    if the chosen provider is unavailable or none is available
     */
    public static Backend create(String name) {
        return select(name).create();
    }
}
