package io.jdiffusion.cli;

import io.jdiffusion.models.pipeline.ProgressListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.Console;
import java.io.PrintWriter;
import java.util.Locale;

/**
 * Progress of one generation on stderr: on a terminal, a progress bar of denoising steps and their rate as
 * "0.3 it/s" or "3.2 s/it"; otherwise (a log file, a pipe) one plain line at each quarter, since a bar's
 * carriage-return frames would fill the log with hundreds of partial lines.
 */
final class ConsoleProgress implements ProgressListener, AutoCloseable {
    private final String task;
    private final boolean terminal;
    private final PrintWriter log;
    private ProgressBar bar;
    private int calls;
    private int steps;
    private long startNanos;
    private int quartersShown;

    /** A bar on the terminal when stderr is one, else plain lines on {@code log}. */
    ConsoleProgress(String task, PrintWriter log) {
        this(task, stderrIsTerminal(), log);
    }

    ConsoleProgress(String task, boolean terminal, PrintWriter log) {
        this.task = task;
        this.terminal = terminal;
        this.log = log;
    }

    /** {@link System#console()} is attached to a terminal only when both stdin and stdout are; stderr is assumed to follow. */
    private static boolean stderrIsTerminal() {
        Console console = System.console();
        return console != null && console.isTerminal();
    }

    @Override
    public void started(int totalCalls, int steps) {
        this.calls = totalCalls;
        this.steps = steps;
        this.startNanos = System.nanoTime();
        this.quartersShown = 0;
        if (!terminal) {
            return;
        }
        bar = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(steps)
                .setStyle(ProgressBarStyle.ASCII)
                .setUnit(" steps", 1)
                .setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .build();
    }

    /** Shows steps, not UNet calls: PNDM's extra first call is folded into its first step. */
    @Override
    public void stepDone(int index, int totalCalls) {
        long done = Math.round((index + 1) * (double) steps / calls);
        String rate = rate(done, System.nanoTime() - startNanos);
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(rate);
            return;
        }
        int quarters = (int) (4L * done / Math.max(1, steps));
        if (quarters > quartersShown) {
            quartersShown = quarters;
            log.printf("jdiffusion: %s: %d/%d steps, %s%n", task, done, steps, rate);
            log.flush();
        }
    }

    /** tqdm's form: "3.2 it/s" at one step a second or faster, else "3.2 s/it"; always a leading digit. */
    static String rate(long steps, long nanos) {
        if (steps <= 0 || nanos <= 0) {
            return "";
        }
        double perSecond = steps / (nanos / 1e9);
        return perSecond >= 1 ? String.format(Locale.ROOT, "%.1f it/s", perSecond)
                : String.format(Locale.ROOT, "%.1f s/it", 1 / perSecond);
    }

    @Override
    public void finished() {
        close();
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
