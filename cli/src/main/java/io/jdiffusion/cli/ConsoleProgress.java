package io.jdiffusion.cli;

import io.jdiffusion.models.pipeline.ProgressListener;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/** A progress bar on stderr with UNet calls per second. */
final class ConsoleProgress implements ProgressListener, AutoCloseable {
    private final String task;
    private ProgressBar bar;

    ConsoleProgress(String task) {
        this.task = task;
    }

    @Override
    public void started(int totalCalls) {
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
        bar.stepTo(index + 1L);
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
