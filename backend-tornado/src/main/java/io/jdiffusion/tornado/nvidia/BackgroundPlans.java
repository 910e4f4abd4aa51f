package io.jdiffusion.tornado.nvidia;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The library plans of one context (one cuDNN handle), each made once per key, and made on a thread of the context's
 * own while the caller compiles on: inside {@link #overlapping}, a plan asked for with {@link #submit} is built
 * there, one after another (a cuDNN handle is not to be used by two threads at once), and the scope ends only when
 * every such build has finished. Outside that scope {@link #submit} builds at once on the caller's thread.
 *
 * <p>Why: on a machine whose driver cache is empty, cuDNN's graph API spent 4.7 s of the first image's main thread
 * building its engines (runtime-compiled kernels), in line with NVRTC's 5.4 s of TornadoVM's kernels (JFR,
 * docs/PERFORMANCE.md). The two need not wait for each other; they must both be done before a plan's first run,
 * which TornadoVM captures into a CUDA graph, and during a capture no other thread may allocate or load modules.
 * Hence the scope: it ends before the caller's first run, and a plan built outside it is built where it is asked
 * for.
 *
 * @param <K> what a plan is made for
 * @param <P> the plan
 */
public final class BackgroundPlans<K, P> {
    /** The contexts given builds in the current thread's {@link #overlapping} scope; null outside any. */
    private static final ThreadLocal<Set<BackgroundPlans<?, ?>>> SCOPE = new ThreadLocal<>();
    /** Plans built on a builder thread in this JVM: how tests and logs see that the overlap took place. */
    private static final AtomicLong BUILT_IN_BACKGROUND = new AtomicLong();

    private final String name;
    private final Runnable threadSetup;
    /** Guarded by this. */
    private final Map<K, CompletableFuture<P>> plans = new LinkedHashMap<>();
    /** Guarded by this; made at the first build in the background. */
    private ExecutorService builder;
    /**
     * Whether the current builder thread ran {@link #threadSetup}: written on the builder thread, and reset (before
     * any build is submitted to it) when a new builder is made.
     */
    private boolean threadReady;

    /**
     * @param name        names the builder thread (and failures)
     * @param threadSetup run once on the builder thread before its first build (makes the caller's CUDA context
     *                    current there)
     */
    BackgroundPlans(String name, Runnable threadSetup) {
        this.name = name;
        this.threadSetup = threadSetup;
    }

    /**
     * Runs {@code compile} on this thread; the plans it submits are built meanwhile on their contexts' threads.
     * Returns when {@code compile} has returned and every build has finished; fails with {@code compile}'s
     * exception, or else with the first build's, once all are done. Scopes do not nest.
     */
    public static void overlapping(Runnable compile) {
        if (SCOPE.get() != null) {
            throw new IllegalStateException("BackgroundPlans.overlapping does not nest");
        }
        Set<BackgroundPlans<?, ?>> given = new LinkedHashSet<>();
        SCOPE.set(given);
        RuntimeException failure = null;
        try {
            compile.run();
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            SCOPE.remove();
        }
        for (BackgroundPlans<?, ?> p : given) {
            try {
                p.awaitAll();
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            } finally {
                p.stopBuilder(); // idle until the next scope, if any: no thread kept for the executable's lifetime
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Plans built on a builder thread in this JVM so far. */
    public static long builtInBackground() {
        return BUILT_IN_BACKGROUND.get();
    }

    /**
     * Makes the plan for {@code key} with {@code create} unless one is made or under way: in the background inside
     * an {@link #overlapping} scope, here otherwise (where it fails as {@code create} fails).
     */
    void submit(K key, Supplier<P> create) {
        Set<BackgroundPlans<?, ?>> scope = SCOPE.get();
        if (scope == null) {
            plan(key, create);
            return;
        }
        synchronized (this) {
            if (plans.containsKey(key)) {
                return;
            }
            if (builder == null) {
                builder = Executors.newSingleThreadExecutor(Thread.ofPlatform().daemon().name(name).factory());
                threadReady = false; // a new thread: set up again before its first build
            }
            plans.put(key, CompletableFuture.supplyAsync(() -> {
                if (!threadReady) {
                    threadSetup.run();
                    threadReady = true;
                }
                P made = create.get();
                BUILT_IN_BACKGROUND.incrementAndGet();
                return made;
            }, builder));
        }
        scope.add(this);
    }

    /** The plan for {@code key}: waited for where it is under way, made here with {@code create} where it was never asked for. */
    P plan(K key, Supplier<P> create) {
        CompletableFuture<P> f;
        boolean mine = false;
        synchronized (this) {
            f = plans.get(key);
            if (f == null) {
                f = new CompletableFuture<>();
                plans.put(key, f);
                mine = true;
            }
        }
        if (mine) {
            try {
                f.complete(create.get());
            } catch (RuntimeException e) {
                synchronized (this) {
                    plans.remove(key); // a later call tries again and fails the same way, by name
                }
                f.completeExceptionally(e);
                throw e;
            }
        }
        return join(f);
    }

    /** Waits for every build under way; fails with the first that failed, once all are done. */
    void awaitAll() {
        List<CompletableFuture<P>> all;
        synchronized (this) {
            all = new ArrayList<>(plans.values());
        }
        RuntimeException failure = null;
        for (CompletableFuture<P> f : all) {
            try {
                join(f);
            } catch (RuntimeException e) {
                if (failure == null) {
                    failure = e;
                }
            }
        }
        if (failure != null) {
            throw failure;
        }
    }

    /** Waits for the builds under way, hands each plan made to {@code destroy} and stops the builder thread. */
    void close(Consumer<P> destroy) {
        List<CompletableFuture<P>> all;
        synchronized (this) {
            all = new ArrayList<>(plans.values());
            plans.clear();
        }
        for (CompletableFuture<P> f : all) {
            P p;
            try {
                p = join(f);
            } catch (RuntimeException failedBuild) {
                continue; // nothing was made
            }
            destroy.accept(p);
        }
        stopBuilder();
    }

    /** Lets the builder thread end once its queue is done; a later build in the background starts another. */
    private synchronized void stopBuilder() {
        if (builder != null) {
            builder.shutdown();
            builder = null;
        }
    }

    /** {@code f}'s plan, or its build's own exception (not wrapped) where it failed. */
    private P join(CompletableFuture<P> f) {
        try {
            return f.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw new IllegalStateException(name + ": a plan's build failed", e.getCause());
        }
    }
}
