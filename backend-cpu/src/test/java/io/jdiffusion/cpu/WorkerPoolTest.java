package io.jdiffusion.cpu;

import org.junit.jupiter.api.Test;

import java.util.concurrent.atomic.AtomicIntegerArray;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WorkerPoolTest {
    @Test
    void everyIndexRunsExactlyOnceAcrossManyJobs() {
        try (WorkerPool pool = new WorkerPool(3)) {
            for (int tasks : new int[]{1, 2, 3, 7, 100, 1000}) {
                AtomicIntegerArray hits = new AtomicIntegerArray(tasks);
                pool.forEach(tasks, hits::incrementAndGet);
                for (int i = 0; i < tasks; i++) {
                    assertThat(hits.get(i)).as("index %d of %d", i, tasks).isEqualTo(1);
                }
            }
        }
    }

    @Test
    void aTaskFailureReachesTheCallerAndThePoolStaysUsable() {
        try (WorkerPool pool = new WorkerPool(2)) {
            assertThatThrownBy(() -> pool.forEach(50, i -> {
                if (i == 17) {
                    throw new IllegalArgumentException("task 17 failed");
                }
            })).isInstanceOf(IllegalArgumentException.class).hasMessage("task 17 failed");
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            pool.forEach(10, hits::incrementAndGet);
            assertThat(hits.toString()).isEqualTo("[1, 1, 1, 1, 1, 1, 1, 1, 1, 1]");
        }
    }

    @Test
    void aJobStartedInsideATaskRunsInline() {
        try (WorkerPool pool = new WorkerPool(2)) {
            AtomicIntegerArray hits = new AtomicIntegerArray(4 * 5);
            pool.forEach(4, outer -> pool.forEach(5, inner -> hits.incrementAndGet(outer * 5 + inner)));
            for (int i = 0; i < 20; i++) {
                assertThat(hits.get(i)).isEqualTo(1);
            }
        }
    }
}
