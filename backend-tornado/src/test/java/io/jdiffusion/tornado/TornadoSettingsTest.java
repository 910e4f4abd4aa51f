package io.jdiffusion.tornado;

import io.jdiffusion.tornado.kernels.NormKernels;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The backend's -Djdiffusion.tornado.* options: defaults, accepted values, one clear error for a bad one. */
class TornadoSettingsTest {
    private static final List<String> KEYS = List.of(TornadoSettings.DEVICE, TornadoSettings.LIBRARIES, TornadoSettings.CUDA_GRAPH,
            TornadoSettings.WINOGRAD, TornadoSettings.TENSOR_CORE_ATTENTION, TornadoSettings.PROFILE, TornadoSettings.TASKS_PER_GRAPH,
            TornadoSettings.WIDE_HEAD_ATTENTION, TornadoSettings.GROUP_NORM_SLICE, TornadoSettings.OPERAND_ALIGNMENT,
            TornadoSettings.CUDNN_FILTER_NHWC, TornadoSettings.CUDNN_GRAPH, TornadoSettings.CUDNN_ATTENTION_GRAPH,
            TornadoSettings.CUDNN_PLANS_IN_BACKGROUND, TornadoSettings.SPLIT_K, TornadoSettings.ATTENTION_SCORE_BYTES,
            TornadoSettings.SCORE_ATTENTION_KEYS, TornadoSettings.COMPILE_THREADS, TornadoSettings.GEMM_WORK_GROUPS_PER_SM,
            TornadoSettings.ATTENTION_WORK_GROUPS_PER_SM, TornadoSettings.ATTENTION_FAST_EXP);
    private final Map<String, String> saved = new HashMap<>();

    TornadoSettingsTest() {
        for (String k : KEYS) {
            saved.put(k, System.getProperty(k));
            System.clearProperty(k);
        }
    }

    @AfterEach
    void restore() {
        saved.forEach((k, v) -> {
            if (v == null) {
                System.clearProperty(k);
            } else {
                System.setProperty(k, v);
            }
        });
    }

    @Test
    void defaults() {
        assertThat(TornadoSettings.device()).isEmpty();
        assertThat(TornadoSettings.libraries()).isTrue();
        assertThat(TornadoSettings.cudaGraph()).isTrue();
        assertThat(TornadoSettings.winograd()).isTrue();
        assertThat(TornadoSettings.tensorCoreAttention()).isTrue();
        assertThat(TornadoSettings.wideHeadAttention()).isTrue();
        assertThat(TornadoSettings.profile()).isFalse();
        assertThat(TornadoSettings.tasksPerGraph()).isEqualTo(TornadoSettings.DEFAULT_TASKS_PER_GRAPH);
        assertThat(TornadoSettings.groupNormSlice()).isEqualTo(NormKernels.DEFAULT_SLICE);
        assertThat(TornadoSettings.operandAlignment()).isEqualTo(16);
        assertThat(TornadoSettings.cudnnFilterNhwc()).isTrue();
        assertThat(TornadoSettings.cudnnGraph()).isTrue();
        assertThat(TornadoSettings.cudnnAttentionGraph()).isTrue();
        assertThat(TornadoSettings.cudnnPlansInBackground()).isTrue();
        assertThat(TornadoSettings.splitK()).as("chosen per product").isZero();
        assertThat(TornadoSettings.attentionScoreBytes()).as("as on cuBLASLt").isEqualTo(WideHeadAttention.SCORE_BYTES);
        assertThat(TornadoSettings.scoreAttentionKeys()).isEqualTo(TornadoSettings.DEFAULT_SCORE_ATTENTION_KEYS);
        assertThat(TornadoSettings.compileThreads()).isEqualTo(Runtime.getRuntime().availableProcessors());
        assertThat(TornadoSettings.gemmWorkGroupsPerSm()).isEqualTo(2);
        assertThat(TornadoSettings.attentionWorkGroupsPerSm()).isEqualTo(1);
        assertThat(TornadoSettings.attentionFastExp()).isTrue();
    }

    @Test
    void valuesAreReadEachTimeTheyAreAskedFor() {
        System.setProperty(TornadoSettings.DEVICE, " 1:0 ");
        System.setProperty(TornadoSettings.LIBRARIES, "FALSE");
        System.setProperty(TornadoSettings.CUDA_GRAPH, "false");
        System.setProperty(TornadoSettings.WINOGRAD, "false");
        System.setProperty(TornadoSettings.TENSOR_CORE_ATTENTION, "false");
        System.setProperty(TornadoSettings.PROFILE, "true");
        System.setProperty(TornadoSettings.TASKS_PER_GRAPH, "12");
        System.setProperty(TornadoSettings.WIDE_HEAD_ATTENTION, "false");
        System.setProperty(TornadoSettings.GROUP_NORM_SLICE, "4096");
        System.setProperty(TornadoSettings.OPERAND_ALIGNMENT, "256");
        System.setProperty(TornadoSettings.CUDNN_FILTER_NHWC, "true");
        System.setProperty(TornadoSettings.CUDNN_GRAPH, "true");
        System.setProperty(TornadoSettings.CUDNN_ATTENTION_GRAPH, "FALSE");
        System.setProperty(TornadoSettings.CUDNN_PLANS_IN_BACKGROUND, "false");
        System.setProperty(TornadoSettings.SPLIT_K, " 5");
        System.setProperty(TornadoSettings.ATTENTION_SCORE_BYTES, "4096");
        System.setProperty(TornadoSettings.SCORE_ATTENTION_KEYS, "512");
        System.setProperty(TornadoSettings.COMPILE_THREADS, " 3 ");
        System.setProperty(TornadoSettings.ATTENTION_WORK_GROUPS_PER_SM, "4");
        System.setProperty(TornadoSettings.ATTENTION_FAST_EXP, "FALSE");
        assertThat(TornadoSettings.device()).hasValueSatisfying(d -> assertThat(d).containsExactly(1, 0));
        assertThat(TornadoSettings.libraries()).isFalse();
        assertThat(TornadoSettings.cudaGraph()).isFalse();
        assertThat(TornadoSettings.winograd()).isFalse();
        assertThat(TornadoSettings.tensorCoreAttention()).isFalse();
        assertThat(TornadoSettings.profile()).isTrue();
        assertThat(TornadoSettings.tasksPerGraph()).isEqualTo(12);
        assertThat(TornadoSettings.wideHeadAttention()).isFalse();
        assertThat(TornadoSettings.groupNormSlice()).isEqualTo(4096);
        assertThat(TornadoSettings.operandAlignment()).isEqualTo(256);
        assertThat(TornadoSettings.cudnnFilterNhwc()).isTrue();
        assertThat(TornadoSettings.cudnnGraph()).isTrue();
        assertThat(TornadoSettings.cudnnAttentionGraph()).isFalse();
        assertThat(TornadoSettings.cudnnPlansInBackground()).isFalse();
        assertThat(TornadoSettings.splitK()).isEqualTo(5);
        assertThat(TornadoSettings.attentionScoreBytes()).isEqualTo(4096);
        assertThat(TornadoSettings.scoreAttentionKeys()).as("from 512 keys").isEqualTo(512);
        assertThat(TornadoSettings.compileThreads()).isEqualTo(3);
        assertThat(TornadoSettings.attentionWorkGroupsPerSm()).isEqualTo(4);
        assertThat(TornadoSettings.attentionFastExp()).isFalse();
        System.setProperty(TornadoSettings.CUDNN_GRAPH, "false");
        System.setProperty(TornadoSettings.CUDNN_FILTER_NHWC, "false");
        assertThat(TornadoSettings.cudnnGraph()).isFalse();
        System.clearProperty(TornadoSettings.CUDNN_FILTER_NHWC);
        assertThat(TornadoSettings.cudnnFilterNhwc()).as("the legacy API's default").isFalse();
        System.setProperty(TornadoSettings.CUDNN_FILTER_NHWC, "true");
        assertThatThrownBy(TornadoSettings::cudnnFilterNhwc).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(TornadoSettings.CUDNN_GRAPH + "=true");
        System.setProperty(TornadoSettings.DEVICE, "2");
        assertThat(TornadoSettings.device()).hasValueSatisfying(d -> assertThat(d).containsExactly(2, 0));
    }

    @Test
    void badValuesFailNamingTheProperty() {
        bad(TornadoSettings.DEVICE, "cuda", TornadoSettings::device);
        bad(TornadoSettings.DEVICE, "1:0:0", TornadoSettings::device);
        bad(TornadoSettings.DEVICE, "-1:0", TornadoSettings::device);
        bad(TornadoSettings.LIBRARIES, "off", TornadoSettings::libraries);
        bad(TornadoSettings.CUDA_GRAPH, "no", TornadoSettings::cudaGraph);
        bad(TornadoSettings.WINOGRAD, "0", TornadoSettings::winograd);
        bad(TornadoSettings.TENSOR_CORE_ATTENTION, "yes", TornadoSettings::tensorCoreAttention);
        bad(TornadoSettings.PROFILE, "1", TornadoSettings::profile);
        bad(TornadoSettings.TASKS_PER_GRAPH, "0", TornadoSettings::tasksPerGraph);
        bad(TornadoSettings.ATTENTION_SCORE_BYTES, "512", TornadoSettings::attentionScoreBytes);
        bad(TornadoSettings.ATTENTION_SCORE_BYTES, "64MiB", TornadoSettings::attentionScoreBytes);
        bad(TornadoSettings.SCORE_ATTENTION_KEYS, "-1", TornadoSettings::scoreAttentionKeys);
        bad(TornadoSettings.OPERAND_ALIGNMENT, "8", TornadoSettings::operandAlignment);
        bad(TornadoSettings.CUDNN_FILTER_NHWC, "nhwc", TornadoSettings::cudnnFilterNhwc);
        bad(TornadoSettings.CUDNN_GRAPH, "v9", TornadoSettings::cudnnGraph);
        bad(TornadoSettings.OPERAND_ALIGNMENT, "384", TornadoSettings::operandAlignment);
        bad(TornadoSettings.OPERAND_ALIGNMENT, "8192", TornadoSettings::operandAlignment);
        bad(TornadoSettings.TASKS_PER_GRAPH, "328", TornadoSettings::tasksPerGraph);
        bad(TornadoSettings.TASKS_PER_GRAPH, "many", TornadoSettings::tasksPerGraph);
        bad(TornadoSettings.GROUP_NORM_SLICE, "255", TornadoSettings::groupNormSlice);
        bad(TornadoSettings.GROUP_NORM_SLICE, "16k", TornadoSettings::groupNormSlice);
        bad(TornadoSettings.SPLIT_K, "65", TornadoSettings::splitK);
        bad(TornadoSettings.SPLIT_K, "auto", TornadoSettings::splitK);
        bad(TornadoSettings.CUDNN_PLANS_IN_BACKGROUND, "later", TornadoSettings::cudnnPlansInBackground);
        bad(TornadoSettings.COMPILE_THREADS, "0", TornadoSettings::compileThreads);
        bad(TornadoSettings.COMPILE_THREADS, "all", TornadoSettings::compileThreads);
        bad(TornadoSettings.GEMM_WORK_GROUPS_PER_SM, "5", TornadoSettings::gemmWorkGroupsPerSm);
        bad(TornadoSettings.ATTENTION_WORK_GROUPS_PER_SM, "6", TornadoSettings::attentionWorkGroupsPerSm);
        bad(TornadoSettings.ATTENTION_WORK_GROUPS_PER_SM, "0", TornadoSettings::attentionWorkGroupsPerSm);
        bad(TornadoSettings.ATTENTION_FAST_EXP, "fast", TornadoSettings::attentionFastExp);
    }

    private static void bad(String key, String value, Supplier<?> read) {
        System.setProperty(key, value);
        try {
            assertThatThrownBy(read::get).isInstanceOf(IllegalArgumentException.class).hasMessageContaining(key)
                    .hasMessageContaining("'" + value + "'");
        } finally {
            System.clearProperty(key);
        }
    }

    /** The TornadoVM options the backend sets: a value given on the command line wins. */
    @Test
    void runtimeDefaultsLeaveCommandLineValuesAlone() {
        Map<String, String> defaults = TornadoSettings.runtimeDefaults();
        assertThat(defaults).doesNotContainKey("tornado.vmflush")
                .containsEntry("tornado.max.events", Integer.toString(TornadoSettings.MAX_EVENTS))
                .containsEntry("tornado.recover.bailout", "False")
                .containsEntry("tornado.cuda.host.pinning", "false")
                .containsEntry("tornado.ptx.compiler.flags", "CU_JIT_OPTIMIZATION_LEVEL 4 CU_JIT_MAX_REGISTERS 128");
        // The test JVM's backend was made through the provider, which applied them before TornadoVM started;
        // each is now either the default or what the command line said.
        TornadoSettings.applyRuntimeDefaults();
        defaults.keySet().forEach(k -> assertThat(System.getProperty(k)).as(k).isNotNull());
    }
}
