package io.jdiffusion.cli;

import io.jdiffusion.backend.Availability;
import io.jdiffusion.backend.BackendProvider;
import io.jdiffusion.backend.Backends;
import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.PrintWriter;
import java.util.List;

/** Lists every backend the class path offers, with availability and device. */
@Command(name = "backends", mixinStandardHelpOptions = true,
        description = "List the compute backends, whether each can run here, and on what device.")
final class BackendsCommand implements Runnable {
    /** The GPU backend is built only where TornadoVM is installed; elsewhere it is not on the class path. */
    static final String TORNADO = "tornado";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        PrintWriter out = spec.commandLine().getOut();
        List<BackendProvider> providers = Backends.discover();
        for (BackendProvider p : providers) {
            Availability a = p.availability();
            out.printf("%-8s %-12s %s%n", p.name(), a.available() ? "available" : "unavailable",
                    a.available() ? p.deviceDescription() : a.reason());
        }
        if (providers.stream().noneMatch(p -> p.name().equals(TORNADO))) {
            out.printf("%-8s %-12s %s%n", TORNADO, "unavailable",
                    "TornadoVM not installed (set TORNADOVM_HOME to its SDK and rebuild; see README)");
        }
    }
}
