package io.jdiffusion.cli;

import io.jdiffusion.models.pipeline.ProgressListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.Console;
import java.io.PrintWriter;

/**
 * Progress of one generation on stderr: on a terminal, a progress bar with UNet calls per second; otherwise
 * (a log file, a pipe) one plain line at each quarter, since a bar's carriage-return frames would fill the
 * log with hundreds of partial lines.
 */
final class ConsoleProgress implements ProgressListener, AutoCloseable {
    private final String task;
    private final boolean terminal;
    private final PrintWriter log;
    private ProgressBar bar;
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
    public void started(int totalCalls) {
        quartersShown = 0;
        if (!terminal) {
            return;
        }
        bar = new ProgressBarBuilder()
                .setTaskName(task)
                .setInitialMax(totalCalls)
                .setStyle(ProgressBarStyle.ASCII)
                .setUnit(" it", 1)
                .showSpeed()
                .setUpdateIntervalMillis(250)
                .setConsumer(new ConsoleProgressBarConsumer(System.err))
                .build();
    }

    @Override
    public void stepDone(int index, int totalCalls) {
        if (bar != null) {
            bar.stepTo(index + 1L);
            return;
        }
        int quarters = (int) (4L * (index + 1) / Math.max(1, totalCalls));
        if (quarters > quartersShown) {
            quartersShown = quarters;
            log.printf("jdiffusion: %s: %d/%d UNet calls%n", task, index + 1, totalCalls);
            log.flush();
        }
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
