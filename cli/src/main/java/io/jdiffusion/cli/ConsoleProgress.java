package io.jdiffusion.cli;

import io.jdiffusion.models.pipeline.ProgressListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.util.Locale;

/** A progress bar on stderr: denoising steps, and their rate as "0.3 it/s" or "3.2 s/it". */
final class ConsoleProgress implements ProgressListener, AutoCloseable {
    private final String task;
    private ProgressBar bar;
    private int calls;
    private int steps;
    private long startNanos;

    ConsoleProgress(String task) {
        this.task = task;
    }

    @Override
    public void started(int totalCalls, int steps) {
        this.calls = totalCalls;
        this.steps = steps;
        this.startNanos = System.nanoTime();
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
        bar.stepTo(done);
        bar.setExtraMessage(rate(done, System.nanoTime() - startNanos));
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
