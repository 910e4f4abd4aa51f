package io.jdiffusion.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Properties;

/** The {@code jdiffusion} command: generate images, serve them over HTTP, benchmark, list backends. */
@Command(name = "jdiffusion",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Stable Diffusion 1.x/2.x inference in Java, on CPUs and GPUs.",
        subcommands = {GenerateCommand.class, ServeCommand.class, BenchCommand.class, BackendsCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line and returns its exit code (used by tests with their own writers). */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler(Main::parameterError);
        cli.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            commandLine.getErr().println("jdiffusion: error: " + CliErrors.describe(ex));
            if (Boolean.getBoolean("jdiffusion.debug")) {
                ex.printStackTrace(commandLine.getErr());
            }
            return 1;
        });
        return cli.execute(args);
    }

    /**
     * A command line that does not parse: one error line, picocli's suggestion for a misspelt option if it has
     * one, and where to find the options (not the whole usage text); exit code 2.
     */
    private static int parameterError(CommandLine.ParameterException ex, String[] args) {
        CommandLine commandLine = ex.getCommandLine();
        PrintWriter err = commandLine.getErr();
        err.println("jdiffusion: error: " + CliErrors.describe(ex));
        CommandLine.UnmatchedArgumentException.printSuggestions(ex, err);
        err.println("jdiffusion: see '" + commandLine.getCommandSpec().qualifiedName() + " --help' for the options");
        return commandLine.getCommandSpec().exitCodeOnInvalidInput();
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Reads the version Maven wrote into the jar. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            Properties p = new Properties();
            try (InputStream in = Main.class.getResourceAsStream("version.properties")) {
                if (in != null) {
                    p.load(in);
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return new String[]{"jdiffusion " + p.getProperty("version", "unknown")
                    + " (Java " + Runtime.version() + ", " + System.getProperty("os.arch") + ")"};
        }
    }
}
