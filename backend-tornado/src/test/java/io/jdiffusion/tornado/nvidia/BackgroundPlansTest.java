package io.jdiffusion.tornado.nvidia;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Host-side (no GPU): plans asked for inside {@link BackgroundPlans#overlapping} are built on the context's own
 * thread, one after another, while the caller goes on, and all are done when the scope ends; outside it they are
 * built at once on the caller's thread; failures reach the caller by their own exception.
 */
class BackgroundPlansTest {
    @Test
    void insideTheScopeTheCallerGoesOnWhileOneThreadBuildsEachKeyOnce() throws InterruptedException {
        List<String> builtOn = Collections.synchronizedList(new ArrayList<>());
        AtomicInteger setups = new AtomicInteger();
        BackgroundPlans<Integer, String> plans = new BackgroundPlans<>("test-plans", setups::incrementAndGet);
        CountDownLatch callerWentOn = new CountDownLatch(1);
        long before = BackgroundPlans.builtInBackground();
        BackgroundPlans.overlapping(() -> {
            for (int key : new int[]{1, 2, 1, 3}) {
                plans.submit(key, () -> {
                    await(callerWentOn); // a build that waited for the caller: the caller did not wait for it
                    builtOn.add(Thread.currentThread().getName());
                    return "plan " + key;
                });
            }
            callerWentOn.countDown();
        });
        // the scope ended only after every build finished
        assertThat(builtOn).hasSize(3).containsOnly("test-plans");
        assertThat(setups).hasValue(1);
        assertThat(BackgroundPlans.builtInBackground() - before).isEqualTo(3);
        assertThat(plans.plan(2, () -> "not asked for again")).isEqualTo("plan 2");
        List<String> destroyed = new ArrayList<>();
        plans.close(destroyed::add);
        assertThat(destroyed).containsExactly("plan 1", "plan 2", "plan 3");
    }

    @Test
    void theBuilderThreadEndsWithTheScopeAndALaterScopeSetsUpANewOne() throws InterruptedException {
        AtomicInteger setups = new AtomicInteger();
        BackgroundPlans<Integer, Integer> plans = new BackgroundPlans<>("test-plans-ending", setups::incrementAndGet);
        BackgroundPlans.overlapping(() -> plans.submit(1, () -> 1));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (builderAlive("test-plans-ending") && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertThat(builderAlive("test-plans-ending")).as("a builder thread outlived its scope").isFalse();
        BackgroundPlans.overlapping(() -> plans.submit(2, () -> 2));
        assertThat(setups).as("each builder thread set up once").hasValue(2);
        assertThat(plans.plan(2, () -> -1)).isEqualTo(2);
        plans.close(p -> { });
    }

    private static boolean builderAlive(String name) {
        return Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().equals(name) && t.isAlive());
    }

    @Test
    void outsideTheScopeAPlanIsBuiltAtOnceOnTheCallersThread() {
        BackgroundPlans<String, String> plans = new BackgroundPlans<>("test-plans", () -> {
            throw new AssertionError("no builder thread outside the scope");
        });
        plans.submit("a", () -> Thread.currentThread().getName());
        assertThat(plans.plan("a", () -> "again")).isEqualTo(Thread.currentThread().getName());
        assertThat(plans.plan("b", () -> "made where asked")).isEqualTo("made where asked");
        plans.close(p -> { });
    }

    @Test
    void aFailedBuildFailsTheScopeWithItsOwnExceptionAfterTheOthersFinish() {
        BackgroundPlans<Integer, String> plans = new BackgroundPlans<>("test-plans", () -> { });
        List<Integer> finished = Collections.synchronizedList(new ArrayList<>());
        assertThatThrownBy(() -> BackgroundPlans.overlapping(() -> {
            plans.submit(1, () -> {
                throw new CudnnException("cudnnBackendFinalize", 3000, "CUDNN_STATUS_NOT_SUPPORTED (3000)", "conv 1");
            });
            plans.submit(2, () -> {
                finished.add(2);
                return "plan 2";
            });
        })).isInstanceOf(CudnnException.class).hasMessageContaining("cudnnBackendFinalize").hasMessageContaining("conv 1");
        assertThat(finished).containsExactly(2);
        // the failed key fails again where it is looked up, by the same exception
        assertThatThrownBy(() -> plans.plan(1, () -> "never")).isInstanceOf(CudnnException.class);
        List<String> destroyed = new ArrayList<>();
        plans.close(destroyed::add);
        assertThat(destroyed).containsExactly("plan 2");
    }

    @Test
    void theCallersOwnFailureComesFirstAndTheBuildsAreStillAwaited() {
        BackgroundPlans<Integer, String> plans = new BackgroundPlans<>("test-plans", () -> { });
        AtomicInteger built = new AtomicInteger();
        assertThatThrownBy(() -> BackgroundPlans.overlapping(() -> {
            plans.submit(1, () -> {
                sleep();
                built.incrementAndGet();
                return "plan 1";
            });
            throw new IllegalStateException("compilation failed");
        })).hasMessage("compilation failed");
        assertThat(built).hasValue(1);
        plans.close(p -> { });
    }

    @Test
    void scopesDoNotNest() {
        assertThatThrownBy(() -> BackgroundPlans.overlapping(() -> BackgroundPlans.overlapping(() -> { })))
                .hasMessageContaining("does not nest");
        BackgroundPlans.overlapping(() -> { }); // the failed scope was left
    }

    private static void await(CountDownLatch latch) {
        try {
            assertThat(latch.await(10, TimeUnit.SECONDS)).isTrue();
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void sleep() {
        try {
            Thread.sleep(50);
        } catch (InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }
}
