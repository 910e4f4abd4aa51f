package io.jdiffusion.server;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * 32 clients send txt2img at once to a server whose queue holds 8: each gets an image or a 503 with
 * Retry-After, none hangs (every answer within the test's bound), and /progress answers throughout.
 * Prints (and writes to target/load-test.txt) the counts, the longest wait and latency percentiles.
 */
class LoadTest {
    private static final int CLIENTS = 32;
    private static final int QUEUE = 8;
    private static final long BOUND_SECONDS = 300;

    private record Outcome(int status, long millis, boolean retryAfter, int images) {
    }

    @Test
    void burstOf32AgainstQueueOf8() throws Exception {
        try (TinyServer tiny = new TinyServer(QUEUE);
             ExecutorService clients = Executors.newFixedThreadPool(CLIENTS)) {
            // Warm up: the first job compiles the networks for this size.
            String body = "{\"prompt\": \"load\", \"width\": 32, \"height\": 32, \"steps\": 4, \"seed\": 1}";
            assertThat(tiny.post("/sdapi/v1/txt2img", body).statusCode()).isEqualTo(200);

            AtomicBoolean done = new AtomicBoolean();
            List<Long> progressMillis = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger progressFailures = new AtomicInteger();
            Thread poller = Thread.ofPlatform().start(() -> {
                while (!done.get()) {
                    long t = System.nanoTime();
                    try {
                        HttpResponse<String> p = tiny.get("/sdapi/v1/progress");
                        if (p.statusCode() != 200) {
                            progressFailures.incrementAndGet();
                        }
                        progressMillis.add((System.nanoTime() - t) / 1_000_000);
                        Thread.sleep(50);
                    } catch (Exception e) {
                        progressFailures.incrementAndGet();
                    }
                }
            });

            CountDownLatch start = new CountDownLatch(1);
            List<CompletableFuture<Outcome>> futures = new ArrayList<>();
            for (int i = 0; i < CLIENTS; i++) {
                futures.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        start.await();
                        long t = System.nanoTime();
                        HttpResponse<String> r = tiny.client.send(tiny.request("/sdapi/v1/txt2img")
                                .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
                        long ms = (System.nanoTime() - t) / 1_000_000;
                        int images = r.statusCode() == 200 ? TinyServer.json(r).get("images").size() : 0;
                        return new Outcome(r.statusCode(), ms, r.headers().firstValue("Retry-After").isPresent(), images);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                }, clients));
            }
            long t0 = System.nanoTime();
            start.countDown();
            CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(BOUND_SECONDS, TimeUnit.SECONDS);
            long wallMs = (System.nanoTime() - t0) / 1_000_000;
            done.set(true);
            poller.join();

            List<Outcome> outcomes = futures.stream().map(CompletableFuture::join).toList();
            List<Long> accepted = outcomes.stream().filter(o -> o.status() == 200).map(Outcome::millis).sorted().toList();
            List<Long> refused = outcomes.stream().filter(o -> o.status() == 503).map(Outcome::millis).sorted().toList();
            assertThat(outcomes).allSatisfy(o -> assertThat(o.status()).isIn(200, 503));
            assertThat(outcomes).filteredOn(o -> o.status() == 200).allSatisfy(o -> assertThat(o.images()).isEqualTo(1));
            assertThat(outcomes).filteredOn(o -> o.status() == 503).allSatisfy(o -> assertThat(o.retryAfter()).isTrue());
            assertThat(accepted.size()).isGreaterThanOrEqualTo(QUEUE + 1);
            assertThat(refused).isNotEmpty();
            assertThat(progressFailures.get()).isZero();
            assertThat(progressMillis).isNotEmpty();

            List<Long> sortedProgress = progressMillis.stream().sorted().toList();
            String report = String.format(
                    "load test: %d clients at once, queue %d, tiny model 32x32, 4 steps, CPU backend (%s)%n"
                            + "accepted %d, refused %d (503 + Retry-After), wall %d ms%n"
                            + "accepted latency ms: p50 %d, p90 %d, p99 %d, max (longest wait) %d%n"
                            + "refused latency ms: p50 %d, max %d%n"
                            + "/progress during the burst: %d calls, all 200, p50 %d ms, max %d ms%n",
                    CLIENTS, QUEUE, tiny.backend.deviceDescription(), accepted.size(), refused.size(), wallMs,
                    percentile(accepted, 50), percentile(accepted, 90), percentile(accepted, 99), accepted.getLast(),
                    percentile(refused, 50), refused.getLast(),
                    sortedProgress.size(), percentile(sortedProgress, 50), sortedProgress.getLast());
            System.out.print(report);
            Files.writeString(Path.of("target", "load-test.txt"), report);
            JsonNode idle = TinyServer.json(tiny.get("/sdapi/v1/progress"));
            assertThat(idle.get("state").get("job_count").asInt()).isZero();
            assertThat(tiny.server.queue().waitingJobs()).isZero();
        }
    }

    private static long percentile(List<Long> sorted, int p) {
        int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }
}
