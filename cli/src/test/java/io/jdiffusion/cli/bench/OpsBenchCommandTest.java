package io.jdiffusion.cli.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The output contract of {@code bench ops} (not its speed: one tiny row, timed for a few milliseconds). */
class OpsBenchCommandTest {
    @Test
    void jsonModePrintsThePeakThenOneObjectPerRow() throws Exception {
        StringWriter text = new StringWriter();
        CommandLine cli = new CommandLine(new OpsBenchCommand());
        cli.setOut(new PrintWriter(text, true));
        int code = cli.execute("--json", "--threads", "1", "--seconds", "0.02", "--filter", "N=768 f16");
        assertThat(code).isZero();
        List<JsonNode> rows = new ArrayList<>();
        for (String line : text.toString().strip().split("\n")) {
            rows.add(new ObjectMapper().readTree(line));
        }
        assertThat(rows).hasSize(2);
        assertThat(rows.get(0).get("op").asText()).isEqualTo("fma_peak");
        assertThat(rows.get(0).get("gflops").asDouble()).isPositive();
        JsonNode gemm = rows.get(1);
        assertThat(gemm.get("op").asText()).isEqualTo("gemm");
        assertThat(gemm.get("shape").asText()).isEqualTo("M=77 K=768 N=768");
        assertThat(gemm.get("variant").asText()).isEqualTo("f16 panels");
        assertThat(gemm.get("ms").asDouble()).isPositive();
        assertThat(gemm.get("gflops").asDouble()).isPositive();
        assertThat(gemm.get("fraction_of_peak").asDouble()).isPositive();
    }

    @Test
    void coldCachesAreSaidInTheHeaderAndInEveryJsonRow() throws Exception {
        StringWriter text = new StringWriter();
        CommandLine cli = new CommandLine(new OpsBenchCommand());
        cli.setOut(new PrintWriter(text, true));
        assertThat(cli.execute("--cold-caches", "--threads", "2", "--seconds", "0.02", "--filter", "N=768 f16")).isZero();
        assertThat(text.toString()).contains("Cold caches: 128 MiB written over the threads before each timed run")
                .contains("M=77 K=768 N=768");

        StringWriter json = new StringWriter();
        cli = new CommandLine(new OpsBenchCommand());
        cli.setOut(new PrintWriter(json, true));
        assertThat(cli.execute("--json", "--cold-caches", "--threads", "1", "--seconds", "0.02", "--filter", "N=768 f16")).isZero();
        String[] lines = json.toString().strip().split("\n");
        JsonNode gemm = new ObjectMapper().readTree(lines[lines.length - 1]);
        assertThat(gemm.get("op").asText()).isEqualTo("gemm");
        assertThat(gemm.get("cold_caches").asBoolean()).isTrue();
        assertThat(gemm.get("ms").asDouble()).isPositive();
    }

    @Test
    void aBadThreadCountIsOneClearError() {
        StringWriter err = new StringWriter();
        CommandLine cli = new CommandLine(new OpsBenchCommand());
        cli.setErr(new PrintWriter(err, true));
        assertThat(cli.execute("--threads", "0")).isNotZero();
        assertThat(err.toString()).contains("--threads must be at least 1, got 0");
    }
}
